pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.client",
    "tests.fixtures.llm",
    "tests.fixtures.concurrency",
    "tests.fixtures.voice",
    "tests.fixtures.local_model",
    "tests.fixtures.temporal",
    "tests.fixtures.s3",
]
