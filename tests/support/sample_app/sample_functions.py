"""A tiny FunctionApp that records what the local host hands it, for tests of tools.devhost."""

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
OUT = Path(os.environ.get("SAMPLE_OUT_DIR", "."))


@app.route(route="echo/{name}", methods=["GET", "POST"])
def echo(req: func.HttpRequest) -> func.HttpResponse:
    body = {"name": req.route_params.get("name"), "params": dict(req.params), "body": req.get_body().decode(),
            "method": req.method}
    return func.HttpResponse(json.dumps(body), status_code=201, mimetype="application/json",
                             headers={"X-Sample": "yes"})


@app.route(route="boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("boom")


@app.route(route="off", methods=["GET"])
def switched_off(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("should not be served")


@app.queue_trigger(arg_name="msg", queue_name="%WORK_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    text = msg.get_body().decode()
    record = {"id": msg.id, "body": text, "dequeue_count": msg.dequeue_count, "at": time.time()}
    with open(OUT / "queue.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    if "fail" in text:
        raise RuntimeError("asked to fail")


@app.timer_trigger(arg_name="timer", schedule="%TICK_SCHEDULE%")
def tick(timer: func.TimerRequest) -> None:
    with open(OUT / "timer.jsonl", "a") as f:
        f.write(json.dumps({"at": time.time(), "past_due": timer.past_due}) + "\n")
