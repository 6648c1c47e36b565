"""Integrations, each in its own module so that importing ecotrace imports no framework:

- ``ecotrace.integrations.huggingface.EcotraceCallback`` — a ``transformers.TrainerCallback``
- ``ecotrace.integrations.lightning.EcotraceCallback`` — a Lightning ``Callback``
- ``ecotrace.integrations.mlflow.MlflowReporter`` — the footprint into an MLflow run
- ``ecotrace.integrations.wandb.WandbReporter`` — the footprint into a Weights & Biases run
- ``ecotrace.integrations.tensorboard.TensorBoardReporter`` — the footprint as TensorBoard scalars
- ``ecotrace.integrations.optuna.EcotraceCallback`` — each Optuna trial as a run, a carbon budget
"""
