"""The Dagster layer: thin assets over the core stages, their checks, resources and automation.

Each asset reads its inputs from the artifact store, calls one core `run_<stage>` function
with its `Config` (the stage's settings model with Dagster's `Config` mixed in), stores the
outputs and the stage's typed report, and turns the report into metadata; checks read the
stored report as its type. `ingestion` (one raw asset per registered source, then
`cleaned_documents`), `preparation` and `modeling` hold the assets, `data_checks` and
`model_checks` the checks, `resources` the deployment's settings from the environment.
"""
