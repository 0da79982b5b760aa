"""schema/schema.graphql is exported from the code; drift fails here."""

from tools.cli.schema import SCHEMA_PATH, schema_text


def test_schema_file_matches_the_code() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), "run `rms schema export`"
