"""`studypilot voice-worker`: a livekit-agents worker registered under the agent name that
participant tokens dispatch. Each dispatched room gets a job process that checks the dispatch,
joins the room, listens to the one student the token was minted for, and answers through the
chat turn (voice/agent.py)."""

import asyncio

import structlog
from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, llm, room_io
from livekit.agents.cli import proto
from livekit.agents.cli.cli import _run_worker
from livekit.agents.voice.events import CloseEvent, ConversationItemAddedEvent

from core.config import Settings, get_settings
from core.errors import AppError
from voice.agent import TURN_HANDLING, ChatTurnLLM, StudyPilotVoiceAgent
from voice.jobs import TranscriptRecorder, authorise_job
from voice.runtime import open_runtime
from voice.settings import livekit_settings
from voice.speech import Speech, load_speech
from voice.turns import VoiceTurns

log = structlog.get_logger(__name__)
PROCESS_LOAD_TIMEOUT_SECONDS = 180.0


def new_session(speech: Speech | None) -> AgentSession[None]:
    """The pipeline around the agent. Without speech (tests) it runs on text alone."""
    if speech is None:
        return AgentSession(llm=ChatTurnLLM(), turn_handling=TURN_HANDLING)
    return AgentSession(
        stt=speech.stt,
        vad=speech.vad,
        tts=speech.tts,
        llm=ChatTurnLLM(),
        turn_handling=TURN_HANDLING,
    )


def record_transcript(session: AgentSession[None], recorder: TranscriptRecorder) -> None:
    @session.on("conversation_item_added")
    def _on_item(event: ConversationItemAddedEvent) -> None:
        item = event.item
        if isinstance(item, llm.ChatMessage):
            recorder.record(item.role, item.text_content or "", interrupted=item.interrupted)


def _prewarm(proc: JobProcess) -> None:
    # Speech models load once per job process, before any room is assigned to it.
    proc.userdata["speech"] = load_speech(get_settings())


async def entrypoint(ctx: JobContext) -> None:
    settings = get_settings()
    speech: Speech = ctx.proc.userdata["speech"]
    async with open_runtime(settings) as runtime:
        try:
            runtime.models.for_task("chat")
            job = await authorise_job(runtime, ctx.job.metadata, ctx.job.room.name)
        except AppError as exc:
            log.warning("voice_job_refused", room=ctx.job.room.name, code=exc.code)
            ctx.shutdown(reason=exc.code)
            return
        await ctx.connect()
        session = new_session(speech)
        turns = VoiceTurns(runtime, job.user, job.conversation_id, job.context_refs)
        recorder = TranscriptRecorder(runtime, job.voice_session_id, turns.writing)
        record_transcript(session, recorder)
        closed = asyncio.Event()

        @session.on("close")
        def _on_close(_: CloseEvent) -> None:
            closed.set()

        await session.start(
            StudyPilotVoiceAgent(turns),
            room=ctx.room,
            # Only the student the token was minted for is heard.
            room_options=room_io.RoomOptions(participant_identity=str(job.user.id)),
        )
        await closed.wait()
        await turns.settled()
        await recorder.drain()


def build_server(settings: Settings) -> AgentServer:
    livekit = livekit_settings(settings)
    server = AgentServer(
        ws_url=livekit.url,
        api_key=livekit.api_key,
        api_secret=livekit.api_secret,
        setup_fnc=_prewarm,
        # A job process loads Whisper, Piper and Silero before it takes a room: seconds on an
        # idle CPU, far more on a busy one. The library's 10 s would kill it mid-load.
        initialize_process_timeout=PROCESS_LOAD_TIMEOUT_SECONDS,
        # Each idle process holds the speech models in memory; one keeps a room ready.
        num_idle_processes=1,
    )
    server.rtc_session(entrypoint, agent_name=settings.voice_agent_name)
    return server


def run(settings: Settings) -> None:
    """Blocks until SIGINT/SIGTERM; running jobs are drained first."""
    server = build_server(settings)
    # livekit-agents' own runner (signals, logging, draining). Its public `run_app` parses
    # sys.argv as its own CLI, which `studypilot voice-worker` is not; pinned to 1.8.x for this.
    _run_worker(
        server,
        proto.CliArgs(
            log_level=settings.log_level, log_format="json" if settings.json_logs else "colored"
        ),
    )
