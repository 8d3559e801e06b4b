"""The vocabulary of BETag Studio: every name that more than one module uses, defined once.

Tagging systems and the order they are shown in, job kinds (one table: kind -> handler, parameter class, label,
read by the job registry, the CLI and the Generate page), evaluation tasks, retrievers, report kinds and review
statuses. Adding a tagging system or a job kind touches this module and the new system's or job's own module.

This module imports nothing from the project, so every layer may use it (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from dataclasses import dataclass

# --- tagging systems ------------------------------------------------------------------------------------------
# A tagging system is a named set of item tags (tag -> count, optional confidence) in ``tagging_systems``.
NATIVE = "native"  # the catalog's own tags (MovieLens genres)
BASE = "base"  # one LLM prompt per item (BETag eq. 1)
TAGGPT = "taggpt"  # TagGPT: samples, frequency filter, semantic fusion
BETAG = "betag"  # BETag: m beams of the behaviour-finetuned model, counted over beams (eqs. 2-5)
BETAG_NOFT = "betag-noft"  # ablation: BETag beams from the base model without finetuning
BETAG_PAPER = "betag-paper"  # ablation: the paper's configuration (no behaviour in the prompt)
CF_TAGS = "cf-tags"  # behaviour-propagated base tags of an item's training successors (no LLM; eqs. 4-5)
CURATED = "curated"  # tags approved by reviewers
BEAM_SWEEP_PREFIX = "betag-m"  # default of BetagParams.sweep_prefix: system <prefix><m> holds the first m beams
DEFAULT_ADAPTER = BETAG  # the LoRA adapter the finetune job writes and the betag job reads by default

TABLE2_SYSTEMS = (NATIVE, BASE, TAGGPT, CF_TAGS, BETAG)  # Table 2 rows, in this order (after Popular)
ABLATION_SYSTEMS = (BETAG, BETAG_PAPER, BETAG_NOFT)  # Table 4, followed by the one-beam sweep system <prefix>1
SYSTEM_ORDER = (*TABLE2_SYSTEMS, CURATED)  # left to right in the app (Compare shows these by default)

# ``tagging_systems.kind``: the method that wrote a system (a system's name is free; its kind is one of these).
CUSTOM = "custom"
SYSTEM_KINDS = (NATIVE, BASE, TAGGPT, BETAG, CF_TAGS, CURATED, CUSTOM)

# --- built-in catalogs (betag_engine.catalog.movielens) -------------------------------------------------------
ML_100K, ML_1M = "ml-100k", "ml-1m"
BUILTIN_DATASETS = (ML_100K, ML_1M)
DEFAULT_DATASET = ML_100K
CURRENT_CATALOG = "current"  # the pipeline's name for the catalog already in the database (e.g. an import)

# --- retrieval and evaluation ---------------------------------------------------------------------------------
BM25 = "bm25"
BIRANK = "birank"
POPULAR = "popular"  # ranks by interaction count, ignores tags
TAG_RETRIEVERS = (BM25, BIRANK)
RETRIEVERS = (*TAG_RETRIEVERS, POPULAR)
POPULAR_LABEL = "Popular"  # how tables and reports name Popular's row
NO_SYSTEM = "-"  # the system column of Popular's row in an evaluation table (it uses no tags)

USER_TASK = "user"  # user-based retrieval: the query is the user's history
ITEM_TASK = "item"  # item-based retrieval: the query is the last item before the target
TASKS = (USER_TASK, ITEM_TASK)


def row_label(system: str, retriever: str) -> str:
    """The name of an evaluation row in tables and reports: its system, or "Popular" for the Popular baseline."""
    return POPULAR_LABEL if retriever == POPULAR else system


# --- reports --------------------------------------------------------------------------------------------------
EVALUATION_REPORT = "evaluation"
PIPELINE_REPORT = "pipeline"
REPORT_KINDS = (EVALUATION_REPORT, PIPELINE_REPORT)

# --- review ---------------------------------------------------------------------------------------------------
UNREVIEWED, IN_REVIEW, REVIEWED = "unreviewed", "in_review", "reviewed"
REVIEW_STATUSES = (UNREVIEWED, IN_REVIEW, REVIEWED)  # ``items.review_status``
APPROVE, REJECT, EDIT, ADD, REMOVE, UNDO = "approve", "reject", "edit", "add", "remove", "undo"
REVIEW_ACTIONS = (APPROVE, REJECT, EDIT, ADD, REMOVE, UNDO)  # ``review_decisions.action``
APPROVED, REJECTED, EDITED, REMOVED, PENDING = "approved", "rejected", "edited", "removed", "pending"
TAG_STATES = (APPROVED, REJECTED, EDITED, REMOVED, PENDING)  # a proposed tag's review state

# --- jobs -----------------------------------------------------------------------------------------------------
JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED = PENDING, "running", "done", "failed", "cancelled"
JOB_INTERRUPTED = "interrupted"  # its worker died (killed, crashed machine): seen by any reader, resumable
JOB_STATUSES = (JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED, JOB_INTERRUPTED)  # ``jobs.status``
JOB_RESUMABLE = (JOB_FAILED, JOB_CANCELLED, JOB_INTERRUPTED)  # offered "Resume"; a rerun continues them


@dataclass(frozen=True)
class JobKind:
    """One kind of resumable job (betag_engine.jobs).

    Attributes:
        name: the ``jobs.kind`` value.
        module: the module (under ``betag_engine``) that holds the handler and the parameter class; imported only
            when a job of this kind runs or its parameters are checked, so the app and the CLI start without torch.
        handler: function called with (JobContext, params dict), returning a result dict.
        params: the parameter dataclass. Its fields' ``help`` metadata is the parameters' documentation
            (``python -m betag_engine params``, docs/JOBS.md) and it refuses bad values.
        label: what the app calls it (the Generate page, the jobs list).
        on_generate_page: offered on the Generate page (in the order of ``JOB_KINDS``).
        generate_method: its name under ``python -m betag_engine generate`` ("" = not a generate method).
    """

    name: str
    module: str
    handler: str
    params: str
    label: str
    on_generate_page: bool = False
    generate_method: str = ""


BASE_TAGS = "base-tags"
TAGGPT_JOB = TAGGPT  # tagging jobs are named after the system they write by default
FINETUNE = "finetune"
CF_TAGS_JOB = CF_TAGS
BETAG_JOB = BETAG
CONFIDENCE = "confidence"
EVALUATE = "evaluate"
IMPORT_BUILTIN = "import-builtin"
PIPELINE = PIPELINE_REPORT  # the pipeline job stores a report of the same kind

JOB_KINDS: dict[str, JobKind] = {
    job.name: job
    for job in (
        JobKind(BASE_TAGS, "tagging.base_tags", "base_tags_job", "BaseTagParams", "Base tags (one prompt per item)",
                on_generate_page=True, generate_method=BASE),
        JobKind(TAGGPT_JOB, "tagging.taggpt", "taggpt_job", "TagGPTParams",
                "TagGPT (samples, frequency filter, fusion)", on_generate_page=True, generate_method=TAGGPT),
        JobKind(FINETUNE, "tagging.finetune", "finetune_job", "FinetuneParams", "Finetune on behaviour (LoRA)",
                on_generate_page=True),
        JobKind(BETAG_JOB, "tagging.betag", "betag_job", "BetagParams", "BETag tags (m beams per item)",
                on_generate_page=True, generate_method=BETAG),
        JobKind(CF_TAGS_JOB, "tagging.cf_tags", "cf_tags_job", "CfTagsParams",
                "cf-tags (behaviour-propagated base tags, no LLM)", on_generate_page=True, generate_method=CF_TAGS),
        JobKind(CONFIDENCE, "tagging.confidence", "confidence_job", "ConfidenceParams",
                "Tag confidence (P(Yes) of a judging prompt)", generate_method=CONFIDENCE),
        JobKind(EVALUATE, "experiments.evaluate", "evaluate_job", "EvaluateParams", "Evaluation (HR@10 / NDCG@10)",
                on_generate_page=True),
        JobKind(IMPORT_BUILTIN, "jobs.builtin_jobs", "import_builtin_job", "ImportBuiltinParams",
                "Re-import the built-in catalog", on_generate_page=True),
        JobKind(PIPELINE, "experiments.pipeline", "pipeline_job", "PipelineParams",
                "Pipeline: base, TagGPT, cf-tags, finetuning, BETag, ablations, evaluation, report",
                on_generate_page=True),
    )
}
