"""AWS service limits the runtime enforces itself, so users get a clear error instead of a deep one."""

from __future__ import annotations

#: DynamoDB maximum item size, including attribute names (DynamoDB quotas: 400 KB).
DYNAMODB_ITEM_BYTES = 400 * 1024
#: Room left for keys and bookkeeping attributes of a journal item.
JOURNAL_PAYLOAD_BYTES = DYNAMODB_ITEM_BYTES - 4 * 1024
#: EventBridge PutEvents entry size limit (256 KB, counted over detail-type, source, detail, resources).
EVENTBRIDGE_ENTRY_BYTES = 256 * 1024
#: Lambda asynchronous invocation payload limit (256 KB).
LAMBDA_ASYNC_PAYLOAD_BYTES = 256 * 1024
#: SQS message size limit (256 KB).
SQS_MESSAGE_BYTES = 256 * 1024
#: Longest operation (step) name; journal sort keys must stay below DynamoDB's 1 KB.
MAX_OP_NAME = 400
#: How long received events are kept for ``wait_for`` look-back (DynamoDB TTL).
EVENT_LOG_RETENTION_DAYS = 30
#: Longest journal of one execution; beyond it use child workflows or ``ctx.continue_as_new``
#: (every replay reads the whole journal, so an unbounded one would make each wake-up slower).
MAX_JOURNAL_RECORDS = 20_000
#: Largest journal of one execution in bytes (records as stored), for the same reason and because a
#: cold replay holds all of it in the orchestrator's memory: the Query's attribute maps plus the
#: decoded records measured 2.0x the stored bytes for 400 KB records and 3.9x for 500-byte ones
#: (tracemalloc over ``decode_journal``). 32 MiB x 4 = 128 MB, beside the journal cache's 64 MB and
#: the runtime, fits the orchestrator's default 512 MB (compiler option ``orchestrator_memory``) with room.
MAX_JOURNAL_BYTES = 32 * 1024 * 1024
#: Room an execution header keeps free beside its input: the outcome's error (message, type names,
#: arguments), the progress and the header's own keys and fields. An error always fits, so an
#: execution whose result does not can still end FAILED saying so.
EXECUTION_RESERVE_BYTES = 16 * 1024
#: Largest workflow input (its JSON, UTF-8): DynamoDB's 400 KB item limit less the reserve (393,216 bytes).
MAX_INPUT_BYTES = DYNAMODB_ITEM_BYTES - EXECUTION_RESERVE_BYTES
#: Longest stored error message (UTF-8 bytes); longer ones are cut, keeping the start and the type.
MAX_ERROR_MESSAGE_BYTES = 8 * 1024
#: Largest JSON of an error's constructor arguments and attributes kept to rebuild it (else dropped).
MAX_ERROR_ARGS_BYTES = 2 * 1024
#: Longest ``ctx.progress`` message (UTF-8 bytes); it is stored on the execution header.
MAX_PROGRESS_MESSAGE_BYTES = 2 * 1024
