"""Backup and restore: `flask --app wsgi backup create DIR` and `backup restore DIR`.

Why it is built this way, and what it guarantees: docs/design.md, "Backup and restore"."""
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

MANIFEST = "manifest.json"
DUMP = "database.dump"
UPLOADS = "uploads"
FORMAT = 1
SQLITE_REFUSED = ("内置默认模式（SQLite）不支持此命令：请停止服务后复制数据库文件（{path}）与上传目录（{uploads}）；"
                  "生产环境使用 PostgreSQL。")


class BackupError(click.ClickException):
    pass


def _libpq(url, upload_dir):
    """pg_dump/pg_restore arguments and environment for a SQLAlchemy URL (the password in the environment,
    never on a command line that `ps` shows)."""
    url = make_url(url)
    if not url.get_backend_name().startswith("postgresql"):
        raise BackupError(SQLITE_REFUSED.format(path=url.database, uploads=upload_dir))
    args = ["--dbname", url.database]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = url.password
    return args, env


def _tool(name):
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"找不到 {name}：请安装与数据库版本一致的 PostgreSQL 客户端（Debian：postgresql-client）。")
    return path


def table_checksums(conn):
    """{table: {"rows": n, "checksum": "…"}} for every table of the public schema, in the connection's snapshot.

    A row's checksum is the md5 of its text form; a table's is the sum of its rows' (the first 60 bits), so the
    order rows come back in does not matter and no table is sorted or held in memory.
    """
    conn.execute(text("SET LOCAL TimeZone = 'UTC'"))
    conn.execute(text("SET LOCAL extra_float_digits = 3"))
    tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"))
    result = {}
    for (table,) in tables.all():
        rows, checksum = conn.execute(text(
            f'SELECT count(*), coalesce(sum((\'x\' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0) '
            f'FROM public."{table}" AS t')).one()
        result[table] = {"rows": int(rows), "checksum": str(checksum)}
    return result


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _files(root):
    root = Path(root)
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".upload-"))


def create_backup(database_url, upload_dir, directory, *, now):
    """Write a backup into `directory` (created; refused if it exists and is not empty); returns the manifest."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"备份目录已存在且不为空：{directory}")
    args, env = _libpq(database_url, upload_dir)
    pg_dump = _tool("pg_dump")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        return _write_backup(database_url, upload_dir, directory, args, env, pg_dump, now)
    except BaseException:
        # A half-written backup must not look like one (and must not block the next attempt into the same place).
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _write_backup(database_url, upload_dir, directory, args, env, pg_dump, now):
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                revision = conn.execute(text(
                    "SELECT version_num FROM alembic_version")).scalar() if _has_table(conn, "alembic_version") \
                    else None
                # pg_dump reads the same snapshot while this transaction computes the checksums; both only read.
                dump = subprocess.Popen([pg_dump, "--format=custom", "--no-owner", "--no-acl", "--snapshot", snapshot,
                                         "--file", str(directory / DUMP), *args], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                try:
                    tables = table_checksums(conn)
                finally:
                    out, err = dump.communicate()
                if dump.returncode:
                    raise BackupError(f"pg_dump 失败：{err.strip()}")
    finally:
        engine.dispose()
    files = {DUMP: {"sha256": _sha256(directory / DUMP), "bytes": (directory / DUMP).stat().st_size}}
    uploads_root = Path(upload_dir)
    for source in _files(uploads_root):
        relative = source.relative_to(uploads_root).as_posix()
        target = directory / UPLOADS / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        files[f"{UPLOADS}/{relative}"] = {"sha256": _sha256(target), "bytes": target.stat().st_size}
    manifest = {
        "format": FORMAT,
        "created_at": now.astimezone(datetime.UTC).isoformat(),
        "alembic_revision": revision,
        "pg_dump": subprocess.run([pg_dump, "--version"], capture_output=True, text=True).stdout.strip(),
        "tables": tables,
        "files": files,
    }
    _write_json(directory / MANIFEST, manifest)
    return manifest


def _has_table(conn, name):
    return conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": f"public.{name}"}).scalar_one()


def _write_json(path, data):
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2, sort_keys=True)
        handle.write("\n")
    os.replace(tmp, path)


def read_manifest(directory):
    """The manifest, after checking every file it names against its checksum."""
    directory = Path(directory)
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"无法读取备份清单 {directory / MANIFEST}：{exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"不认识的备份格式：{manifest.get('format')!r}")
    bad = []
    for name, entry in manifest["files"].items():
        path = directory / name
        if not path.is_file() or _sha256(path) != entry["sha256"]:
            bad.append(name)
    if bad:
        raise BackupError(f"备份文件缺失或校验和不符（{len(bad)} 个）：{', '.join(sorted(bad)[:10])}")
    return manifest


def restore_backup(database_url, upload_dir, directory, *, clean=False):
    """Restore `directory` into the database and UPLOAD_DIR; returns (manifest, differences) where differences
    lists the tables whose rows or checksum are not what the manifest recorded (empty when the restore is exact)."""
    manifest = read_manifest(directory)
    directory = Path(directory)
    args, env = _libpq(database_url, upload_dir)
    pg_restore = _tool("pg_restore")
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            existing = conn.execute(text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")).scalar_one()
        if existing and not clean:
            raise BackupError(f"目标数据库已有 {existing} 张表：确认要覆盖请加 --clean（先删除备份中的同名对象）。")
        _check_uploads(directory, manifest, Path(upload_dir), clean)
        command = [pg_restore, "--no-owner", "--no-acl", "--single-transaction", "--exit-on-error", *args]
        if clean:
            command += ["--clean", "--if-exists"]
        result = subprocess.run(command + [str(directory / DUMP)], env=env, capture_output=True, text=True)
        if result.returncode:
            raise BackupError(f"pg_restore 失败（数据库未改变）：{result.stderr.strip()}")
        _copy_uploads(directory, manifest, Path(upload_dir))
        with engine.connect() as conn:
            with conn.begin():
                restored = table_checksums(conn)
    finally:
        engine.dispose()
    differences = sorted(name for name in set(manifest["tables"]) | set(restored)
                         if manifest["tables"].get(name) != restored.get(name))
    return manifest, differences


def _uploads(manifest):
    prefix = f"{UPLOADS}/"
    return {name[len(prefix):]: entry for name, entry in manifest["files"].items() if name.startswith(prefix)}


def _check_uploads(directory, manifest, upload_dir, clean):
    """Refuse before anything is written when a different file already has an upload's name (unless --clean)."""
    if clean:
        return
    clashes = [name for name, entry in _uploads(manifest).items()
               if (upload_dir / name).is_file() and _sha256(upload_dir / name) != entry["sha256"]]
    if clashes:
        raise BackupError(f"上传目录中已有 {len(clashes)} 个同名但内容不同的文件（如 {clashes[0]}）：确认覆盖请加 --clean。")


def _copy_uploads(directory, manifest, upload_dir):
    for name, entry in _uploads(manifest).items():
        target = upload_dir / name
        if target.is_file() and _sha256(target) == entry["sha256"]:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy then rename, as the storage writes: a reader never sees half an image.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        os.close(fd)
        shutil.copy2(directory / UPLOADS / name, tmp)
        os.replace(tmp, target)


@click.group("backup", help="备份与恢复（PostgreSQL 数据库 + 上传的图片）")
def backup_group():
    pass


@backup_group.command("create", help="备份到一个新的（或空的）目录：pg_dump 自定义格式、上传目录、带校验和的清单")
@click.argument("directory", type=click.Path(file_okay=False))
@with_appcontext
def backup_create(directory):
    config = current_app.config
    manifest = create_backup(config["SQLALCHEMY_DATABASE_URI"], config["UPLOAD_DIR"], directory,
                             now=datetime.datetime.now(datetime.UTC))
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"备份完成：{directory}（{len(manifest['tables'])} 张表，{rows} 行，"
               f"{len(manifest['files']) - 1} 个上传文件，迁移版本 {manifest['alembic_revision']}）")


@backup_group.command("restore", help="从备份目录恢复数据库与上传目录，并逐表核对行数与校验和")
@click.argument("directory", type=click.Path(file_okay=False, exists=True))
@click.option("--clean", is_flag=True, help="目标数据库非空时覆盖（删除备份中的同名对象后恢复）")
@with_appcontext
def backup_restore(directory, clean):
    from app import cache

    config = current_app.config
    manifest, differences = restore_backup(config["SQLALCHEMY_DATABASE_URI"], config["UPLOAD_DIR"], directory,
                                           clean=clean)
    # Cached public responses describe the database before the restore.
    cache.invalidate()
    if differences:
        raise BackupError(f"恢复后以下表与备份清单不一致：{', '.join(differences)}")
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"恢复完成并已核对：{len(manifest['tables'])} 张表，{rows} 行，"
               f"{len(manifest['files']) - 1} 个上传文件（备份于 {manifest['created_at']}）。"
               "如代码比备份新，请接着执行 flask --app wsgi db upgrade。")


def init_app(app):
    app.cli.add_command(backup_group)
