"""mirror-service: a small Flask service that mirrors words and writes random numbers to S3.

`create_app()` is the application factory; gunicorn.conf.py names it (`mirror_service:create_app()`),
so every gunicorn worker builds its own application, S3 client and metrics after the fork.

The package imports nothing heavy itself: gunicorn's master reads `mirror_service.config`, and must not
import boto3/urllib3 (they bind `ssl` directly) before the gevent worker monkey-patches it after the fork.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mirror_service.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["ConfigError", "Settings", "create_app"]


def create_app(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the application from `environ` (default: the process environment).

    Raises ConfigError, with every problem in one message, when the environment is invalid.
    """
    from flask import Flask

    from mirror_service.contract import load_document
    from mirror_service.errors import register_error_handlers
    from mirror_service.lifecycle import Readiness
    from mirror_service.observability import Metrics, RequestTelemetry, configure_logging
    from mirror_service.routes import DirectMirror, Services, api
    from mirror_service.storage import Storage

    settings = load_settings(environ)
    configure_logging(settings.log_level)

    app = Flask(__name__)
    storage = Storage(settings)
    metrics = Metrics()
    app.extensions["mirror_service"] = Services(
        settings=settings, storage=storage, readiness=Readiness(storage.check_bucket), metrics=metrics,
        api_document=load_document(),
    )
    app.register_blueprint(api)
    register_error_handlers(app)
    # Flask's middleware pattern; telemetry outermost, so the directly answered mirror requests are
    # logged and counted like every other.
    app.wsgi_app = DirectMirror(app.wsgi_app, settings.max_word_length)  # type: ignore[method-assign]
    app.wsgi_app = RequestTelemetry(app, metrics)  # type: ignore[method-assign]

    if settings.upload_token is None:
        logging.getLogger(__name__).warning("UPLOAD_TOKEN is not set: POST /api/upload-random accepts anyone")
    return app
