"""metrics.csv and TensorBoard events; a resumed run drops the steps it trains again."""

from seagull.train.metrics_log import MetricsLog, read_metrics


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
