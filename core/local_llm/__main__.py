"""`python -m core.local_llm --port N`: serve the local model until SIGTERM or SIGINT.

Run as a child process (by `studypilot run` and the test session) so llama.cpp's threads, memory
and logs stay out of the API's process, and a stop is a plain signal.
"""

import argparse
import signal

import xllamacpp as xlc

from core.local_llm import CHAT_TEMPLATE, SERVER_MAX_TOKENS, model_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--context", type=int, required=True, help="tokens per request")
    parser.add_argument("--parallel", type=int, required=True, help="requests at once")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()

    # Blocked before the server's threads start, so they inherit the mask and only sigwait
    # below receives the stop signal.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    params = xlc.CommonParams()
    params.model.path = str(model_path())
    # llama.cpp splits its context among the parallel slots.
    params.n_ctx = args.context * args.parallel
    params.n_parallel = args.parallel
    params.n_predict = SERVER_MAX_TOKENS
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.hostnames = ["127.0.0.1"]
    params.port = args.port
    params.ui = False
    params.use_jinja = True
    params.chat_template = CHAT_TEMPLATE
    server = xlc.Server(params)
    print(f"local model listening on {server.listening_address}", flush=True)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    del server


if __name__ == "__main__":
    main()
