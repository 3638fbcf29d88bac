from fastapi import APIRouter

router = APIRouter(prefix="/schedule", tags=["schedule"])
