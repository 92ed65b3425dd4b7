from shangjia.localcloud.meter import PRICES, Meter


def test_costs_split_into_orchestration_and_media():
    m = Meter()
    m.request("sqs", "SendMessageBatch", 70_000, 100)          # two 64 KB chunks
    m.request("sqs", "ReceiveMessage(empty)", 0, 10)           # idle polls are not billed
    m.request("dynamodb", "PutItem", 1500, 10)                 # 2 WRU
    m.request("s3", "PutObject", 30_000, 0, s3_media=True)
    m.invocation("media", 1.0, 0.5, 1024, False)
    m.invocation("validate", 0.2, 0.2, 512, False)
    m.state_transitions = 8
    c = m.cost()
    assert c["orchestration"]["sqs"] == 2 * PRICES["sqs_request"]
    assert c["orchestration"]["dynamodb"] == 2 * PRICES["ddb_wru"]
    assert c["orchestration"]["step_functions"] == 8 * PRICES["sfn_transition"]
    assert c["media"]["s3_requests"] == PRICES["s3_put"]
    assert c["media"]["lambda_gb_s"] > 0 and c["orchestration"]["lambda_gb_s"] > 0
    assert m.snapshot()["requests"] == {"sqs": 2, "dynamodb": 1, "s3": 1}
