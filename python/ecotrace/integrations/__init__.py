"""Framework callbacks, each in its own module so that importing ecotrace imports no framework:

- ``ecotrace.integrations.huggingface.EcotraceCallback`` — a ``transformers.TrainerCallback``
- ``ecotrace.integrations.lightning.EcotraceCallback`` — a Lightning ``Callback``
"""
