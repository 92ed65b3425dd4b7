"""Channel queues -> publish: one (product, channel) listing per message."""

from shangjia.channels import ChannelClient
from shangjia.lambda_kit import sqs_batch_handler
from shangjia.pipeline.publish import publish_message

_client = ChannelClient()
lambda_handler = sqs_batch_handler(lambda deps, body, record: publish_message(deps, body, _client))
