"""What of the student's text is put in front of a model when it only needs the gist."""

# Descriptions can be long; their opening says what the subject is, which is all a brief needs.
MAX_DESCRIPTION_CHARS = 500


def clip_description(text: str | None) -> str | None:
    return text[:MAX_DESCRIPTION_CHARS] if text else None
