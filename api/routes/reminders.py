from fastapi import APIRouter

router = APIRouter(prefix="/reminders", tags=["reminders"])
