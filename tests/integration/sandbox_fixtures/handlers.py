"""Handlers for tests/integration/test_sandboxes.py: what Lambda functions do to their sandbox."""

import os
import time

CALLS = 0


def echo(event, context):
    global CALLS
    CALLS += 1
    return {"event": event, "pid": os.getpid(), "calls": CALLS, "clock": os.environ.get("SHANGJIA_CLOCK"),
            "remaining_ms": context.get_remaining_time_in_millis(), "name": context.function_name}


def boom(event, context):
    raise ValueError(f"row {event['row']} is broken")


def die(event, context):
    os._exit(3)


def hang(event, context):
    time.sleep(60)  # killed long before


def unmarshallable(event, context):
    return {"at": object()}
