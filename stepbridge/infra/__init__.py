"""Adapters behind the runtime's ports: the only package that calls boto3.

``dynamodb.DynamoStore`` and ``memory.InMemoryStore`` implement ``Store`` with one shared item
layout (so both enforce the same limits and expiry rules and run one contract test suite);
``aws.AwsEffects`` implements ``Effects`` with SQS, Lambda, EventBridge Scheduler and EventBridge.
"""
