"""``stepbridge cost``: estimate an app's monthly AWS bill from its workflows' operations and a traffic file.

* :mod:`stepbridge.cost.model` - the AWS calls one operation makes (the table the benchmarks measure),
* :mod:`stepbridge.cost.prices` - list prices per region, with the date and source of each,
* :mod:`stepbridge.cost.traffic` - the ``traffic.yaml`` schema,
* :mod:`stepbridge.cost.ops` - what a workflow does, counted statically from its source,
* :mod:`stepbridge.cost.estimate` / :mod:`stepbridge.cost.render` - the bill and its tables.

Nothing here ships in the Lambda layer's hot path; the CLI imports it on demand.
"""
