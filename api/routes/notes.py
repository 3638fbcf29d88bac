from fastapi import APIRouter

router = APIRouter(prefix="/notes", tags=["notes"])
