"""The one stack: storage, queues, functions, review workflow, API, monitoring — all from the topology."""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from shangjia.topology import TOPOLOGY, Topology

from .api import Api
from .functions import Functions, Resources
from .layers import Layers
from .monitoring import Monitoring, Topics
from .queues import Queues
from .settings import Settings, camel
from .storage import Storage
from .web import Web
from .workflow import ReviewWorkflow


class ShangjiaStack(Stack):
    def __init__(self, scope: Construct, id: str, *, topology: Topology = TOPOLOGY, **kwargs) -> None:
        super().__init__(scope, id, description="Shangjia (上架): bulk product listing pipeline", **kwargs)
        self.topology = topology
        settings = Settings.from_context(self)

        self.storage = Storage(self, "Storage", topology=topology, settings=settings)
        self.queues = Queues(self, "Queues", topology=topology)
        self.storage.notify(topology, self.queues.queues)

        self.resources = Resources()
        self.resources.add("bucket", self.storage.buckets)
        self.resources.add("table", self.storage.tables)
        self.resources.add("queue", self.queues.queues)
        self.topics = Topics(self, "Topics", topology=topology)
        self.resources.add("topic", self.topics.topics)
        # the dead-letter queues by their topology names ("<queue>_dlq"): the api's depth and redrive
        self.resources.add("queue", {topology.queue(k).dlq_key: q for k, q in self.queues.dlqs.items()})

        self.layers = Layers(self, "Layers", settings=settings)
        self.functions = Functions(self, "Functions", topology=topology, settings=settings, layers=self.layers,
                                   queues=self.queues.queues)
        self.functions.wire(self.resources)          # buckets, tables, queues
        self.resources.add("function", self.functions.functions)

        self.workflow = ReviewWorkflow(self, "Workflow", topology=topology, settings=settings,
                                       resources=self.resources)
        self.resources.add("statemachine", self.workflow.references)
        self.functions.wire(self.resources)          # now the state machines too
        if pending := self.functions.pending():
            raise ValueError(f"topology grants the stack could not wire: {pending}")

        self.api = Api(self, "Api", topology=topology, settings=settings, functions=self.functions.functions)
        self.resources.add("userpool", {self.api.pool_key: self.api.user_pool})
        self.resources.add("userpoolclient", {self.api.pool_key: self.api.client})
        self.web = Web(self, "Web", access_logs=self.storage.access_logs, api_url=self.api.url)
        self.monitoring = Monitoring(self, "Monitoring", settings=settings, dlqs=self.queues.dlqs,
                                     functions=self.functions.functions,
                                     state_machines=self.workflow.state_machines)

        for key, bucket in self.storage.buckets.items():
            CfnOutput(self, f"{camel(key)}BucketName", value=bucket.bucket_name,
                      description=f"S3 bucket '{key}'" + (" (merchants upload here)" if (key, "intake") in
                                                          topology.notifications else ""))
        for key, table in self.storage.tables.items():
            CfnOutput(self, f"{camel(key)}TableName", value=table.table_name)
        for key, machine in self.workflow.state_machines.items():
            CfnOutput(self, f"{camel(key)}StateMachineArn", value=machine.state_machine_arn)
        for key, dlq in self.queues.dlqs.items():
            CfnOutput(self, f"{camel(key)}DeadLetterQueueUrl", value=dlq.queue_url)
        CfnOutput(self, "ApiUrl", value=self.api.url, description="ops API base URL (routes under /api/)")
        CfnOutput(self, "WebUrl", value=self.web.url, description="the web app (CloudFront; /api and /auth go to the API)")
        CfnOutput(self, "UserPoolId", value=self.api.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.api.client.user_pool_client_id)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
        for key, topic in self.topics.topics.items():
            CfnOutput(self, f"{camel(key)}TopicArn", value=topic.topic_arn)
