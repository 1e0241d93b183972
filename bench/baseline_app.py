"""The bare Flask baseline: one JSON endpoint, served by the same gunicorn config as the product."""
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/hello")
def hello():
    return jsonify(message="ok", items=[{"id": i} for i in range(3)])
