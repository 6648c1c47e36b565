"""The Hugging Face and Lightning callbacks, driven by fakes of the frameworks.

torch, transformers and lightning are far too big to install for a test, so each test puts a
minimal fake of the framework in sys.modules: the base class the callback subclasses, and a
trainer that calls the hooks in the order and with the arguments the real one does
(transformers: `on_train_begin(args, state, control, **kwargs)`, `on_epoch_end`,
`on_log(..., logs=...)`, `on_evaluate(..., metrics=...)`, `on_train_end`, with
`control.should_training_stop`; Lightning: `on_fit_start(trainer, pl_module)`,
`on_train_epoch_end`, `on_fit_end`, `on_exception(trainer, pl_module, exception)`,
`trainer.callback_metrics`, `trainer.should_stop`)."""

import sys
import time
import types

import pytest

import ecotrace

STEADY = dict(scope="machine", cpu_power=100.0, intensity=1000.0, interval=0.02)


class FakeScalar:
    """Stands for a 0-d tensor: has .item()."""

    def __init__(self, v):
        self.v = v

    def item(self):
        return self.v


# -- Hugging Face ------------------------------------------------------------------------------

@pytest.fixture
def fake_transformers(monkeypatch):
    mod = types.ModuleType("transformers")

    class TrainerCallback:
        def on_init_end(self, args, state, control, **kwargs): pass
        def on_train_begin(self, args, state, control, **kwargs): pass
        def on_epoch_begin(self, args, state, control, **kwargs): pass
        def on_step_end(self, args, state, control, **kwargs): pass
        def on_epoch_end(self, args, state, control, **kwargs): pass
        def on_log(self, args, state, control, **kwargs): pass
        def on_evaluate(self, args, state, control, **kwargs): pass
        def on_train_end(self, args, state, control, **kwargs): pass

    mod.TrainerCallback = TrainerCallback
    monkeypatch.setitem(sys.modules, "transformers", mod)
    monkeypatch.delitem(sys.modules, "ecotrace.integrations.huggingface", raising=False)
    return mod


class CallbackHandler:
    """transformers.trainer_callback.CallbackHandler: calls each callback's hook in turn."""

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def call_event(self, event, args, state, control, **kwargs):
        for cb in self.callbacks:
            getattr(cb, event)(args, state, control, model=object(), **kwargs)
        return control


class HFTrainer:
    """Calls the callback hooks as transformers.Trainer does: on_init_end at the end of
    __init__ (through its callback handler), then the inner training loop's hooks in train(). An
    exception in the loop (fail_at=epoch) leaves train() without calling on_train_end, as the real
    loop does."""

    def __init__(self, callback=None, epochs=3, steps=2, epoch_s=0.03, world_zero=True,
                 fail_at=None):
        self.args = types.SimpleNamespace(num_train_epochs=epochs, output_dir="out")
        self.state = types.SimpleNamespace(
            num_train_epochs=epochs, is_world_process_zero=world_zero, total_flos=0.0,
            epoch=0.0, global_step=0, log_history=[])
        self.control = types.SimpleNamespace(should_training_stop=False, should_log=False)
        self.steps, self.epoch_s, self.fail_at = steps, epoch_s, fail_at
        self.callback_handler = CallbackHandler([callback] if callback else [])
        self.control = self.callback_handler.call_event(
            "on_init_end", self.args, self.state, self.control)

    def add_callback(self, callback):
        self.callback_handler.callbacks.append(callback)

    def hook(self, name, **kwargs):
        self.callback_handler.call_event(name, self.args, self.state, self.control, **kwargs)

    def train(self):
        self.state.epoch, self.state.global_step, self.state.total_flos = 0.0, 0, 0.0
        self.control.should_training_stop = False
        self.hook("on_train_begin")
        for epoch in range(self.args.num_train_epochs):
            self.hook("on_epoch_begin")
            for _ in range(self.steps):
                time.sleep(self.epoch_s / self.steps)
                if self.fail_at == epoch:
                    raise RuntimeError("CUDA out of memory")
                self.state.global_step += 1
                self.state.total_flos += 1e12
                self.hook("on_step_end")
            self.state.epoch = epoch + 1.0
            self.hook("on_epoch_end")
            self.hook("on_log", logs={"loss": 1.0 / (epoch + 1), "learning_rate": 5e-5,
                                      "epoch": self.state.epoch})
            self.hook("on_evaluate", metrics={"eval_accuracy": FakeScalar(0.8 + epoch / 100),
                                              "eval_runtime": 0.1, "eval_model": "bert"})
            if self.control.should_training_stop:
                break
        self.hook("on_train_end")


def test_huggingface_callback_tracks_a_training(fake_transformers, cli):
    from ecotrace.integrations.huggingface import EcotraceCallback

    assert issubclass(EcotraceCallback, fake_transformers.TrainerCallback)
    assert ecotrace.HuggingFaceCallback is EcotraceCallback
    cb = EcotraceCallback(project="bert-finetune", interval=0.02)
    HFTrainer(cb, epochs=3).train()
    fp = cb.footprint
    assert fp.status == "finished" and fp.energy_kwh > 0
    shown = cli.show(fp.run_id)
    assert shown["project"] == "bert-finetune" and shown["phase"] == "training"
    m = shown["metrics"]
    assert m["epochs"] == 3 and m["planned_epochs"] == 3
    assert m["loss"] == pytest.approx(1 / 3)
    assert m["eval_accuracy"] == pytest.approx(0.82)
    assert "eval_model" not in m
    assert m["flops"] == 6e12


def test_huggingface_training_that_raises_is_recorded_as_failed(fake_transformers, cli):
    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(project="bert-finetune", interval=0.02)
    trainer = HFTrainer(cb, epochs=3, fail_at=1)
    with pytest.raises(RuntimeError, match="CUDA out of memory"):
        trainer.train()
    assert not cb.tracker.running
    shown = cli.show(cb.footprint.run_id)
    assert shown["status"] == "failed"
    assert shown["error"] == "RuntimeError: CUDA out of memory"
    assert shown["metrics"]["epochs"] == 1

    # The next train() (after fixing the batch size, say) is a run of its own.
    failed_id = cb.footprint.run_id
    trainer.fail_at = None
    trainer.train()
    assert cb.footprint.run_id != failed_id and cb.footprint.status == "finished"
    assert cli.show(cb.footprint.run_id)["metrics"]["epochs"] == 3
    assert cli.show(failed_id)["status"] == "failed"


def test_each_train_call_is_a_run_of_its_own(fake_transformers, cli):
    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(project="bert-finetune", interval=0.02)
    trainer = HFTrainer(cb, epochs=2)
    trainer.train()
    first = cb.footprint
    trainer.train()
    second = cb.footprint
    assert first.run_id != second.run_id
    assert [first.status, second.status] == ["finished", "finished"]
    assert [cli.show(r.run_id)["metrics"]["epochs"] for r in (first, second)] == [2, 2]
    # Two callbacks' wrappers never stack: the trainer's train is wrapped once.
    assert trainer.train.__wrapped__.__func__ is HFTrainer.train


def test_callback_added_after_the_trainer_was_built(fake_transformers, cli):
    # add_callback() after __init__: on_init_end never reached the callback, so the first failure
    # cannot be caught as it happens; it is recorded (failed) when the next train() begins rather
    # than merged into that run, and from then on failures are caught as they happen.
    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(interval=0.02)
    trainer = HFTrainer(epochs=2, fail_at=0)
    trainer.add_callback(cb)
    with pytest.raises(RuntimeError):
        trainer.train()
    first = cb.tracker
    assert first.running
    with pytest.raises(RuntimeError):
        trainer.train()
    assert not first.running
    assert first.footprint.status == "failed" and "without reaching on_train_end" in first.footprint.error
    second = cb.footprint
    assert second.run_id != first.run_id
    assert cli.show(second.run_id)["error"] == "RuntimeError: CUDA out of memory"


def test_huggingface_callback_does_nothing_off_the_main_process(fake_transformers):
    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(interval=0.02)
    HFTrainer(cb, epochs=1, world_zero=False).train()
    assert cb.tracker is None and cb.footprint is None


def test_huggingface_budget_stop_ends_training(fake_transformers, steady_machine):
    from ecotrace.integrations.huggingface import EcotraceCallback

    cb = EcotraceCallback(**STEADY, budget_kgco2e=1e-12, on_budget="stop")
    trainer = HFTrainer(cb, epochs=20, epoch_s=0.05)
    trainer.train()
    # Stopped after the first epoch's projection (a later one if the machine is so busy that the
    # meter had not measured anything yet).
    assert 1.0 <= trainer.state.epoch <= 3.0
    assert cb.footprint.status == "interrupted"
    assert "BudgetExceeded" in cb.footprint.error
    assert cb.budget_error.projected.total_kgco2e > 1e-12


# -- Lightning ---------------------------------------------------------------------------------

@pytest.fixture
def fake_lightning(monkeypatch):
    root = types.ModuleType("lightning")
    pt = types.ModuleType("lightning.pytorch")
    cbs = types.ModuleType("lightning.pytorch.callbacks")

    class Callback:
        def on_fit_start(self, trainer, pl_module): pass
        def on_train_epoch_start(self, trainer, pl_module): pass
        def on_train_epoch_end(self, trainer, pl_module): pass
        def on_validation_epoch_end(self, trainer, pl_module): pass
        def on_fit_end(self, trainer, pl_module): pass
        def on_exception(self, trainer, pl_module, exception): pass

    cbs.Callback = Callback
    root.pytorch, pt.callbacks = pt, cbs
    for name, m in (("lightning", root), ("lightning.pytorch", pt),
                    ("lightning.pytorch.callbacks", cbs)):
        monkeypatch.setitem(sys.modules, name, m)
    monkeypatch.delitem(sys.modules, "ecotrace.integrations.lightning", raising=False)
    return cbs


class PLTrainer:
    """Calls the callback hooks as lightning.Trainer.fit does (hooks inside a try that calls
    on_exception, validation before on_train_epoch_end)."""

    def __init__(self, callbacks, max_epochs=3, epoch_s=0.03, fail_at=None):
        self.callbacks = callbacks
        self.max_epochs = max_epochs
        self.is_global_zero = True
        self.callback_metrics = {}
        self.should_stop = False
        self.current_epoch = 0
        self.epoch_s, self.fail_at = epoch_s, fail_at

    def call(self, name, *args):
        for cb in self.callbacks:
            getattr(cb, name)(self, object(), *args)

    def fit(self):
        try:
            self.call("on_fit_start")
            while self.current_epoch < self.max_epochs and not self.should_stop:
                self.call("on_train_epoch_start")
                time.sleep(self.epoch_s)
                if self.fail_at == self.current_epoch:
                    raise RuntimeError("CUDA out of memory")
                self.callback_metrics = {"train_loss": FakeScalar(1.0 / (self.current_epoch + 1)),
                                         "val_acc": FakeScalar(0.7 + self.current_epoch / 100)}
                self.call("on_validation_epoch_end")
                self.call("on_train_epoch_end")
                self.current_epoch += 1
            self.call("on_fit_end")
        except BaseException as e:
            self.call("on_exception", e)
            raise


def test_lightning_callback_tracks_fit(fake_lightning, cli):
    from ecotrace.integrations.lightning import EcotraceCallback

    assert issubclass(EcotraceCallback, fake_lightning.Callback)
    assert ecotrace.LightningCallback is EcotraceCallback
    cb = EcotraceCallback(project="resnet", interval=0.02)
    PLTrainer([cb], max_epochs=3).fit()
    fp = cb.footprint
    assert fp.status == "finished"
    m = cli.show(fp.run_id)["metrics"]
    assert m["epochs"] == 3 and m["planned_epochs"] == 3
    assert m["train_loss"] == pytest.approx(1 / 3) and m["val_acc"] == pytest.approx(0.72)


def test_lightning_exception_records_a_failed_run(fake_lightning, cli):
    from ecotrace.integrations.lightning import EcotraceCallback

    cb = EcotraceCallback(interval=0.02)
    with pytest.raises(RuntimeError):
        PLTrainer([cb], max_epochs=3, fail_at=1).fit()
    shown = cli.show(cb.footprint.run_id)
    assert shown["status"] == "failed"
    assert shown["error"] == "RuntimeError: CUDA out of memory"
    assert shown["metrics"]["epochs"] == 1


def test_lightning_budget_stop_sets_should_stop(fake_lightning, steady_machine):
    from ecotrace.integrations.lightning import EcotraceCallback

    cb = EcotraceCallback(**STEADY, budget_kgco2e=1e-12, on_budget="stop")
    trainer = PLTrainer([cb], max_epochs=50, epoch_s=0.05)
    trainer.fit()
    assert 1 <= trainer.current_epoch <= 3
    assert cb.footprint.status == "interrupted"


def test_the_older_pytorch_lightning_package_works_too(monkeypatch):
    for name in ("lightning", "lightning.pytorch", "lightning.pytorch.callbacks"):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    pl = types.ModuleType("pytorch_lightning")
    cbs = types.ModuleType("pytorch_lightning.callbacks")
    cbs.Callback = type("Callback", (), {})
    pl.callbacks = cbs
    monkeypatch.setitem(sys.modules, "pytorch_lightning", pl)
    monkeypatch.setitem(sys.modules, "pytorch_lightning.callbacks", cbs)
    monkeypatch.delitem(sys.modules, "ecotrace.integrations.lightning", raising=False)
    from ecotrace.integrations.lightning import EcotraceCallback

    assert issubclass(EcotraceCallback, cbs.Callback)
