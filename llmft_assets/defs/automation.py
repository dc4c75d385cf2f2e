"""What runs on its own: daily discovery, declarative automation, weekly retraining.

The daily schedule materializes `document_catalog`, which puts the new documents into new
batches and registers each batch as a partition; `on_missing` conditions then fetch and clean
exactly those partitions, and `eager` conditions rebuild chunks and the dataset once their
upstream has changed.

Retraining is weekly, and only when the dataset changed since the adapter was trained: a
GPU run for every day's handful of new posts would cost more than it teaches.
"""

import dagster as dg

from llmft_assets.defs.ingestion import document_catalog
from llmft_assets.defs.modeling import gguf_model, lora_adapter, merged_model
from llmft_assets.defs.preparation import training_dataset

discover_documents_job = dg.define_asset_job(
    "discover_documents", selection=dg.AssetSelection.assets(document_catalog)
)

daily_ingestion_schedule = dg.ScheduleDefinition(
    name="daily_ingestion",
    job=discover_documents_job,
    cron_schedule="0 4 * * *",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)

retrain_model_job = dg.define_asset_job(
    "retrain_model", selection=dg.AssetSelection.assets(lora_adapter, merged_model, gguf_model)
)


@dg.schedule(
    job=retrain_model_job,
    cron_schedule="0 6 * * 1",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def weekly_retraining(context: dg.ScheduleEvaluationContext):
    """Monday 06:00: retrain, merge and export if the dataset is newer than the adapter."""
    dataset = context.instance.get_latest_materialization_event(training_dataset.key)
    adapter = context.instance.get_latest_materialization_event(lora_adapter.key)
    if dataset is None:
        return dg.SkipReason("no training_dataset yet")
    if adapter is not None and adapter.timestamp >= dataset.timestamp:
        return dg.SkipReason("training_dataset has not changed since the adapter was trained")
    return dg.RunRequest(run_key=f"dataset-{dataset.run_id}")


automation_sensor = dg.AutomationConditionSensorDefinition(
    "llmft_automation",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
)
