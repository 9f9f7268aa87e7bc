"""metrics.csv and TensorBoard events; a resumed run drops the steps it trains again."""

import io

from seagull.train.metrics_log import MetricsLog, ProgressPrinter, read_metrics


def test_rows_and_events(tmp_path):
    log = MetricsLog(tmp_path)
    for step in (1, 2, 3):
        log.log({"step": step, "epoch": 0, "loss": 1.0 / step, "lr": 0.1,
                 "val_srocc": 0.5 if step == 3 else float("nan")})
    log.close()
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [r["step"] for r in rows] == [1, 2, 3]
    assert rows[1]["loss"] == 0.5 and rows[1]["val_srocc"] is None and rows[2]["val_srocc"] == 0.5
    events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0


def test_resume_keeps_rows_up_to_the_checkpoint(tmp_path):
    log = MetricsLog(tmp_path)
    for step in range(1, 6):
        log.log({"step": step, "loss": float(step)})
    log.close()
    resumed = MetricsLog(tmp_path, resume_step=2)
    resumed.log({"step": 3, "loss": 30.0})
    resumed.close()
    rows = read_metrics(tmp_path / "metrics.csv")
    assert [(r["step"], r["loss"]) for r in rows] == [(1, 1.0), (2, 2.0), (3, 30.0)]


def _row(step, loss=0.5, **extra):
    return {"step": step, "epoch": 0, "loss": loss, "lr": 1e-3, "samples_per_s": 10.0,
            "tokens_per_s": 100.0, **extra}


def test_progress_prints_each_new_row_once(tmp_path):
    log = MetricsLog(tmp_path)
    log.log(_row(1))  # written before the printer starts: not printed again
    out = io.StringIO()
    printer = ProgressPrinter(tmp_path / "metrics.csv", total=4, out=out)
    printer.poll()
    assert out.getvalue() == ""
    log.log(_row(2, loss=0.25))
    log.log(_row(3, val_srocc=0.75))
    printer.poll()
    printer.poll()  # nothing new: nothing printed
    with (tmp_path / "metrics.csv").open("a") as fh:
        fh.write("4,0,0.1")  # a row caught mid-write is left for the next poll
    printer.poll()
    lines = out.getvalue().splitlines()
    assert lines == ["step 2/4 epoch 0 loss 0.2500 lr 1.00e-03 10.0 samples/s",
                     "step 3/4 epoch 0 loss 0.5000 lr 1.00e-03 10.0 samples/s val SROCC 0.750"]
    with (tmp_path / "metrics.csv").open("a") as fh:
        fh.write("25,0.001,80.0,900.0,,,,\n")
    printer.poll()
    assert out.getvalue().splitlines()[-1] == (
        "step 4/4 epoch 0 loss 0.1250 lr 1.00e-03 80.0 samples/s")
    log.close()


def test_progress_follows_a_resumed_run_and_thins_out(tmp_path):
    log = MetricsLog(tmp_path)
    for step in range(1, 6):
        log.log(_row(step))
    log.close()
    out = io.StringIO()
    with ProgressPrinter(tmp_path / "metrics.csv", total=6, every=2, out=out, interval=0.01):
        resumed = MetricsLog(tmp_path, resume_step=2)  # steps 3–5 are trained again
        for step in range(3, 7):
            resumed.log(_row(step, loss=float(step)))
        resumed.close()
    steps = [int(line.split()[1].split("/")[0]) for line in out.getvalue().splitlines()]
    # the retrained steps are new rows: every second one and the last, each once, whatever
    # the thread saw in between
    assert steps == [4, 6]


def test_progress_notices_a_resumed_run_that_rewrote_a_longer_file(tmp_path):
    log = MetricsLog(tmp_path)
    out = io.StringIO()
    printer = ProgressPrinter(tmp_path / "metrics.csv", total=8, out=out)
    for step in range(1, 4):
        log.log(_row(step))
    log.close()
    printer.poll()
    # Resumed from step 1 and already past where the printer had read before it polls again:
    # the file is replaced, and the steps trained again are printed, each once.
    resumed = MetricsLog(tmp_path, resume_step=1)
    for step in range(2, 9):
        resumed.log(_row(step, loss=float(step)))
    resumed.close()
    printer.poll()
    printer.poll()
    steps = [int(line.split()[1].split("/")[0]) for line in out.getvalue().splitlines()]
    assert steps == [1, 2, 3, 2, 3, 4, 5, 6, 7, 8]


def test_progress_skips_an_unreadable_row_and_goes_on(tmp_path):
    log = MetricsLog(tmp_path)
    out = io.StringIO()
    printer = ProgressPrinter(tmp_path / "metrics.csv", total=3, out=out)
    log.log(_row(1))
    with (tmp_path / "metrics.csv").open("a") as fh:
        fh.write("two,0,oops,,,,,,,\n")
    log.log(_row(3))
    printer.poll()
    assert [line.split()[1] for line in out.getvalue().splitlines()] == ["1/3", "3/3"]
    log.close()
