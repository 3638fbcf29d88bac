from fastapi import APIRouter

router = APIRouter(prefix="/goals", tags=["goals"])
