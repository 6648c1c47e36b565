"""The notebook magics against a real IPython shell, and a notebook executed headless by nbclient
on a real ipykernel kernel."""

import pytest

from conftest import need

need("IPython")
nbformat = need("nbformat")
nbclient = need("nbclient")
need("ipykernel")
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402


@pytest.fixture
def ip():
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "ecotrace")
    yield shell
    shell.run_line_magic("unload_ext", "ecotrace")
    InteractiveShell.clear_instance()


def last():
    from ecotrace.integrations import jupyter

    return jupyter.last_tracker


def test_cell_magic_measures_one_cell_and_prints_its_summary(ip, capsys, cli):
    r = ip.run_cell("%%ecotrace --project nb --phase experiment --tag lr=3e-4 --region FR\n"
                    "total = sum(i * i for i in range(200_000))\n"
                    "print('cell ran')\n")
    assert r.success
    out = capsys.readouterr().out
    fp = last().footprint
    assert out.startswith("cell ran\n")
    # the summary, under the cell's output
    assert f"ecotrace run {fp.run_id[:8]}: finished" in out and "energy by device" in out
    assert ip.user_ns["total"] == sum(i * i for i in range(200_000))  # ran in the user namespace
    shown = cli.show(fp.run_id)
    assert (shown["project"], shown["phase"], shown["status"]) == ("nb", "experiment", "finished")
    assert shown["tags"] == {"lr": "3e-4"} and shown["intensity"]["zone"] == "FR"


def test_a_cell_that_raises_is_recorded_as_failed(ip, capsys, cli):
    ip.run_cell("%%ecotrace --project nb\nx = 1\n1 / 0\n")
    out = capsys.readouterr()
    assert "ZeroDivisionError" in out.out + out.err  # IPython showed the traceback
    shown = cli.show(last().footprint.run_id)
    assert shown["status"] == "failed" and shown["error"] == "ZeroDivisionError: division by zero"


def test_start_and_stop_span_cells(ip, capsys, cli):
    ip.run_cell("%ecotrace start --project nb --phase data")
    started = last()
    assert started.running
    assert f"measuring run {started.run_id}" in capsys.readouterr().out
    ip.run_cell("a = 1")
    ip.run_cell("%ecotrace")  # the footprint so far
    assert "Footprint(" in capsys.readouterr().out
    ip.run_cell("b = a + 1")
    assert started.running
    ip.run_cell("%ecotrace stop")
    assert not started.running
    assert started.run_id[:8] in capsys.readouterr().out
    assert cli.show(started.run_id)["phase"] == "data"


def test_usage_errors_say_what_to_do(ip, capsys):
    for line, message in [
        ("%ecotrace stop", "no tracker is running"),
        ("%ecotrace bogus", "unknown command 'bogus'"),
        ("%%ecotrace --regoin FR\nx = 1", "did you mean region"),
        ("%%ecotrace --tag nokey\nx = 1", "--tag takes key=value"),
        ("%%ecotrace project\nx = 1", "unexpected 'project'"),
    ]:
        r = ip.run_cell(line)
        assert not r.success, line
        out = capsys.readouterr()
        assert message in out.out + out.err, (line, out)
    ip.run_cell("%ecotrace start")
    r = ip.run_cell("%ecotrace start")
    out = capsys.readouterr()
    assert not r.success and "already running" in out.out + out.err
    ip.run_cell("%ecotrace stop")


def test_unloading_the_extension_stops_a_running_tracker(ip):
    ip.run_cell("%ecotrace start --project nb --quiet")
    t = last()
    ip.run_line_magic("unload_ext", "ecotrace")
    assert not t.running and t.footprint.status == "interrupted"
    ip.run_line_magic("load_ext", "ecotrace")


def test_a_notebook_run_headless_by_nbclient(tmp_path, cli):
    cells = [
        "%load_ext ecotrace",
        "%%ecotrace --project nbrun --phase experiment\ns = sum(i * i for i in range(100_000))",
        "from ecotrace.integrations import jupyter\nprint(jupyter.last_tracker.footprint.run_id)",
        "%ecotrace start --project nbrun --phase training",
        "t = s + 1",
        "%ecotrace stop",
        "print(jupyter.last_tracker.footprint.run_id)",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()

    def stdout(i):
        return "".join(o.get("text", "") for o in nb.cells[i].outputs if o.output_type == "stream"
                       and o.name == "stdout")

    cell_run = stdout(2).strip()
    spanned = stdout(6).strip()
    # the summaries, under the cells
    assert f"ecotrace run {cell_run[:8]}: finished" in stdout(1)
    assert f"ecotrace run {spanned[:8]}: finished" in stdout(5)
    a, b = cli.show(cell_run), cli.show(spanned)
    assert (a["project"], a["phase"], a["status"]) == ("nbrun", "experiment", "finished")
    assert (b["project"], b["phase"], b["status"]) == ("nbrun", "training", "finished")
