"""Training data, without Dagster: chunks into a Hugging Face dataset split by document.

`build.run_dataset` is the `training_dataset` stage (the split, the records in the format
asked for, the dataset card; a `DatasetReport`); `formats` writes each format's records,
`card` the dataset card.
"""
