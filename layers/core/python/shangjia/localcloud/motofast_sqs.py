"""moto's SQS without the walks of a whole queue that AWS does not make (``motofast``'s SQS part).

Each patch keeps moto's own code path and answers; ``tests/integration/test_motofast.py`` runs the
same requests on moto's SQS and on the patched one and compares what a client sees.

- **Retention.** To check a message's retention moto asked ``get_queue_attributes``, which builds
  ``Queue.attributes`` (counting the visible, in-flight and delayed messages: a walk of the whole
  queue) three times, so a receive cost grew with the queue's depth times the messages received.
  It reads the retention period.
- **Sends.** A send reads one queue attribute (``ContentBasedDeduplication``: in its validation, in
  ``send_message`` and in ``Queue.add_message``) through ``Queue.attributes``, which computes them
  all: three walks of the queue per message sent (23 % of the emulator's time with 5,000 images
  queued for media). While a send runs, ``attributes`` is that one attribute, as moto computes it.
- **Receives.** ``receive_message`` walked ``Queue.messages``, a list of every visible message
  built by asking each message of the queue whether it is visible and not delayed (two clock reads
  each), before handing out the first ten: with 5,000 images queued for media, 9 % of the
  emulator's time in the 2,000-product bench (py-spy, 2026-12-03). The receive now walks the
  queue's messages once, at one instant, and stops when it has its ``count`` — moto's loop
  otherwise, line for line (moto is pinned: ``requirements-dev.txt``).
"""

from __future__ import annotations

from copy import deepcopy


def install(originals: dict, local) -> None:
    from moto.core.utils import unix_time, unix_time_millis
    from moto.sqs.models import Queue, SQSBackend, _filter_message_attributes

    original_retention = originals["sqs_retention"] = SQSBackend.is_message_valid_based_on_retention_period

    def is_message_valid_based_on_retention_period(self, queue_name, message):
        try:
            period = int(self.get_queue(queue_name).message_retention_period)
        except Exception:   # noqa: BLE001 - anything unexpected: moto's own path
            return original_retention(self, queue_name, message)
        return period + message.sent_timestamp / 1000 > unix_time()

    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period

    original_send = originals["sqs_send_message"] = SQSBackend.send_message
    original_attributes = originals["sqs_queue_attributes"] = Queue.__dict__["attributes"]

    def queue_attributes(self):
        if not getattr(local, "sqs_sending", False):
            return original_attributes.fget(self)
        if not self.fifo_queue:
            return {}
        value = self.content_based_deduplication
        return {"ContentBasedDeduplication": str(value).lower() if isinstance(value, bool) else value}

    def send_message(self, *args, **kwargs):
        outer = getattr(local, "sqs_sending", False)
        local.sqs_sending = True
        try:
            return original_send(self, *args, **kwargs)
        finally:
            local.sqs_sending = outer

    Queue.attributes = property(queue_attributes)
    SQSBackend.send_message = send_message

    originals["sqs_receive_message"] = SQSBackend.receive_message

    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout,
                        message_attribute_names=None):
        # moto 5.2.5's receive_message; only the walk differs (see the module's docstring)
        if message_attribute_names is None:
            message_attribute_names = []
        queue = self.get_queue(queue_name)
        result = []
        previous_result_count = len(result)
        polling_end = unix_time() + wait_seconds_timeout
        currently_pending_groups = deepcopy(queue.pending_message_groups)
        while True:
            if result or (wait_seconds_timeout and unix_time() > polling_end):
                break
            messages_to_dlq = []
            now = unix_time_millis()
            for message in list(queue._messages):
                # ``Queue.messages``' test (visible and not delayed), at one instant
                if not now > message.visible_at or now < message.delayed_until:
                    continue
                if message in queue.pending_messages:
                    queue.pending_messages.remove(message)
                    currently_pending_groups = deepcopy(queue.pending_message_groups)
                if message.group_id and queue.fifo_queue:
                    if message.group_id in currently_pending_groups:
                        continue
                if (queue.dead_letter_queue is not None and queue.redrive_policy
                        and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]):
                    messages_to_dlq.append(message)
                    continue
                queue.pending_messages.add(message)
                message.mark_received(visibility_timeout=visibility_timeout)
                message_copy = deepcopy(message)
                _filter_message_attributes(message_copy, message_attribute_names)
                if not self.is_message_valid_based_on_retention_period(queue_name, message):
                    break
                result.append(message_copy)
                if len(result) >= count:
                    break
            for message in messages_to_dlq:
                queue._messages.remove(message)
                queue.dead_letter_queue.add_message(message)
            if previous_result_count == len(result):
                if wait_seconds_timeout == 0:
                    break
                queue.wait_for_messages(1)
                continue
            previous_result_count = len(result)
        return result

    SQSBackend.receive_message = receive_message


def uninstall(originals: dict) -> None:
    from moto.sqs.models import Queue, SQSBackend

    SQSBackend.is_message_valid_based_on_retention_period = originals.pop("sqs_retention")
    SQSBackend.send_message = originals.pop("sqs_send_message")
    SQSBackend.receive_message = originals.pop("sqs_receive_message")
    Queue.attributes = originals.pop("sqs_queue_attributes")
