from pydantic import BaseModel

SCHEDULE_ID = "document-reconciler"


class ReprocessStuck(BaseModel):
    # An upload still `processing` this long after its last change lost its run: a large PDF
    # takes well under a minute here, the extraction timeout is five.
    older_than_seconds: float = 900.0


class ReprocessResult(BaseModel):
    # Final status -> how many documents ended in it ("gone": deleted meanwhile).
    outcomes: dict[str, int]
