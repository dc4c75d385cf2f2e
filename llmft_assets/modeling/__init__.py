"""The model, without Dagster: a base model, a LoRA adapter trained on it, the two merged.

`base.run_base_model` is the `base_model` stage (any source as plain bf16 safetensors; a
`BaseModelReport`); `stage.run_training` the `lora_adapter` stage (a `TrainingJob`: the
`settings.TrainingSettings` on a base and a saved dataset; a `TrainingReport`) and
`stage.run_merge` the `merged_model` stage (a `MergeReport`). `settings` resolves the hardware
choices (device, precision, quantization) once; `training.train_lora` is the one training loop,
run in one process or one per GPU (`distributed`); `gpu` plans the micro-batch from free GPU
memory; `evaluation` scores every model on the same validation tokens; `merge`, `source`,
`plots` do what they say.
"""
