"""The one `Definitions` of the llmft code location."""

import dagster as dg

from llmft_assets.defs.automation import (
    automation_sensor,
    daily_ingestion_schedule,
    discover_documents_job,
    retrain_model_job,
    weekly_retraining,
)
from llmft_assets.defs.data_checks import DATA_CHECKS
from llmft_assets.defs.ingestion import INGESTION_ASSETS
from llmft_assets.defs.model_checks import MODEL_CHECKS
from llmft_assets.defs.modeling import base_model, gguf_model, lora_adapter, merged_model
from llmft_assets.defs.preparation import batch_chunks, text_chunks, training_dataset
from llmft_assets.defs.resources import resources_from_environment

DATA_ASSETS = [*INGESTION_ASSETS, batch_chunks, text_chunks, training_dataset]
MODEL_ASSETS = [base_model, lora_adapter, merged_model, gguf_model]
# Every asset, in the order a run of the whole graph materializes them: the pipeline command
# and the tests derive their steps and asset lists from this one list.
ASSETS = [*DATA_ASSETS, *MODEL_ASSETS]

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=[*DATA_CHECKS, *MODEL_CHECKS],
    jobs=[discover_documents_job, retrain_model_job],
    schedules=[daily_ingestion_schedule, weekly_retraining],
    sensors=[automation_sensor],
    resources=resources_from_environment(),
    # Steps run in the run's own process: a process per step would import torch each time,
    # and the work inside a run is sequential anyway.
    executor=dg.in_process_executor,
)
