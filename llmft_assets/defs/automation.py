"""What runs on its own: daily discovery, and declarative automation from there on.

The schedule materializes `document_catalog`, which registers each new document as a
partition; `on_missing` conditions then fetch and clean exactly those partitions (as one
backfill, thanks to the single-run backfill policy), and `eager` conditions rebuild chunks
and the dataset once their upstream has changed.
"""

import dagster as dg

from llmft_assets.defs.ingestion import document_catalog

discover_documents_job = dg.define_asset_job(
    "discover_documents", selection=dg.AssetSelection.assets(document_catalog)
)

daily_ingestion_schedule = dg.ScheduleDefinition(
    name="daily_ingestion",
    job=discover_documents_job,
    cron_schedule="0 4 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

automation_sensor = dg.AutomationConditionSensorDefinition(
    "llmft_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
