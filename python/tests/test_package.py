"""The package itself: what importing it costs and pulls in, stubs, version."""

import subprocess
import sys
from pathlib import Path

import ecotrace


def test_import_pulls_in_no_framework():
    code = (
        "import sys, ecotrace\n"
        "heavy = [m for m in ('torch', 'transformers', 'lightning', 'pytorch_lightning', 'numpy',"
        " 'mlflow', 'wandb', 'tensorboard', 'optuna', 'IPython', 'ipykernel', 'pandas')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert 'ecotrace.integrations' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_public_api():
    for name in ("Tracker", "track", "Footprint", "BudgetExceeded", "BudgetWarning",
                 "current_tracker", "__version__"):
        assert hasattr(ecotrace, name), name
    assert issubclass(ecotrace.BudgetWarning, UserWarning)
    assert ecotrace.__version__.count(".") == 2


def test_type_stubs_ship_with_the_package():
    pkg = Path(ecotrace.__file__).parent
    assert (pkg / "py.typed").exists()
    assert (pkg / "_ecotrace.pyi").exists()


def test_the_native_core_is_built_for_the_stable_abi():
    # One wheel serves every CPython ≥ 3.9: the extension is an abi3 build.
    from ecotrace import _ecotrace

    assert _ecotrace.__file__.endswith(".abi3.so"), _ecotrace.__file__


def test_the_wheel_carries_the_licence_and_the_third_party_notices():
    """The installed distribution ships LICENSE and THIRD_PARTY_NOTICES.md (PEP 639
    `.dist-info/licenses/`), the same files as the repository's, and states the licences."""
    from importlib import metadata

    dist = metadata.distribution("ecotrace")
    repo = Path(__file__).resolve().parents[2]
    for name in ("LICENSE", "THIRD_PARTY_NOTICES.md"):
        shipped = dist.read_text(f"licenses/{name}")
        assert shipped, f"{name} is not in the installed wheel"
        assert shipped == (repo / name).read_text(), name
    assert "THIRD_PARTY_NOTICES.md" in dist.metadata.get_all("License-File")
    expression = dist.metadata["License-Expression"]
    assert "Apache-2.0" in expression and "ODbL-1.0" in expression
