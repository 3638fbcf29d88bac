"""Study material: uploaded files, extracted and chunked, searchable with page-level citations."""
