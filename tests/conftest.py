pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.client",
    "tests.fixtures.llm",
    "tests.fixtures.local_model",
]
