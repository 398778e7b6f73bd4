import hashlib

import dagster as dg
import sqlalchemy as sa

from core.control_store import engine_for, landing_events
from core.settings import get_settings
from orchestration.defs.ingest.landing import FORMATS


def landing_signature() -> str:
    """A cheap fingerprint of new landing data: file names, sizes and modification times, and
    the API inbox's last sequence number."""
    settings = get_settings()
    landing = settings.landing_dir
    digest = hashlib.sha256()
    with engine_for(settings.control_store_url).connect() as store:
        last_seq = store.execute(sa.select(sa.func.max(landing_events.c.seq))).scalar()
    digest.update(f"inbox|{last_seq}\n".encode())
    if landing.is_dir():
        for path in sorted(landing.rglob("*")):
            if path.suffix.lower() in FORMATS and path.is_file():
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(landing)}|{stat.st_size}|{stat.st_mtime_ns}\n".encode()
                )
    return digest.hexdigest()


@dg.sensor(
    job_name="build_warehouse",
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def landing_files_sensor(context: dg.SensorEvaluationContext):
    """Start a build when landing files appear or change, or the API accepts events."""
    signature = landing_signature()
    if signature == context.cursor:
        return dg.SkipReason("no new landing files")
    context.update_cursor(signature)
    return dg.RunRequest(run_key=signature)
