#!/usr/bin/env python3
"""Write hico-benchmarks' fixtures and the official evaluation's answers for them.

1. Tiny benchmark folders in each publisher's layout, under
   crates/hico-benchmarks/tests/fixtures/<task>/ (annotation files with the real names,
   columns and types; subtitle files; no videos: `media.json` lists the video files and frame
   folders the Rust test creates as empty placeholders).
2. `expected.json` per folder, computed by the OFFICIAL code: VideoChat-Flash's lmms-eval fork
   (`lmms-eval_videochat/lmms_eval/tasks/<task>/utils.py` and yaml), imported from the path
   given on the command line with stubs for its heavy imports. For every question: the prompt
   (`doc_to_text` with the yaml's lmms_eval_specific_kwargs resolved as lmms-eval resolves them
   for a model without its own entry), the gold letter, and for every reply in REPLIES the
   official process_results verdict; for a few assignments of replies to questions, the
   official aggregation (group scores weighted as lmms-eval's evaluator weights them).

LongVideoBench's parser calls random.choice when nothing parses; the reference replaces it by
hico's deterministic rule (FNV-1a of the question id modulo the number of choices) and marks
those replies `random`.

Needs pyarrow and pyyaml (never in CI; CI only reads what this writes):
    /work/venvl/bin/pip install pyarrow pyyaml
    /work/venvl/bin/python scripts/make_benchmark_fixtures.py /path/to/VideoChat-Flash/lmms-eval_videochat
"""
import importlib.util
import json
import logging
import os
import pathlib
import sys
import types

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates" / "hico-benchmarks" / "tests" / "fixtures"

REPLIES = [
    "A", "B", "(C)", "D.", "(B) the cup", "The answer is C", "The best answer is: D",
    "Best answer:Best option: B", "", "  c  ", "a cat", "Based on the video, A.",
    "I think (C) is right because the man moves left.", "E", "A. something\nmore",
    "Answer: B, C", "none of these", "The correct option is B because it matches.",
    "It looks like a cat sitting on the mat today", "(A) or (B)? I would say (B)", "A B",
]


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode():
        h ^= b
        h = (h * 0x100000001B3) % (1 << 64)
    return h


# ----------------------------------------------------------------------------- fixtures
def write_parquet(path, rows, schema):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="snappy")


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n")


def videomme(d):
    s = pa.schema([(k, pa.string()) for k in ["video_id", "duration", "domain", "sub_category", "url", "videoID", "question_id", "task_type", "question"]]
                  + [("options", pa.list_(pa.string())), ("answer", pa.string())])
    rows = []
    spec = [
        ("001", "short", "Knowledge", "Humanity & History", "vidSHORT01", "Counting Problem"),
        ("001", "short", "Knowledge", "Humanity & History", "vidSHORT01", "Information Synopsis"),
        ("302", "medium", "Sports Competition", "Football", "vidMED0302", "Action Reasoning"),
        ("302", "medium", "Sports Competition", "Football", "vidMED0302", "OCR Problems"),
        ("601", "long", "Multilingual", "Multilingual", "vidLONG601", "Temporal Perception"),
        ("602", "long", "Life Record", "Pet & Animal", "vidLONG602", "Object Recognition"),
    ]
    for i, (vid, dur, dom, sub, yid, tt) in enumerate(spec):
        rows.append(dict(video_id=vid, duration=dur, domain=dom, sub_category=sub, url=f"https://www.youtube.com/watch?v={yid}",
                         videoID=yid, question_id=f"{vid}-{i % 3 + 1}", task_type=tt,
                         question=["How many apples are on the tree?", "What is the genre of this video?", "Why does the keeper dive left?",
                                   "What is written on the banner?", "When does the singer switch languages?", "Which animal appears first?"][i],
                         options=["A. Apples.", "B. Candles.", "C. Berries.", "D. The three kinds are of the same number."] if i == 0 else
                         [f"A. option one {i}", f"B. a cat {i}", f"C. (C) third {i}", f"D. Dogs, 3.5 of them {i}"],
                         answer="ABCDAB"[i]))
    write_parquet(d / "videomme" / "test-00000-of-00001.parquet", rows, s)
    sub = d / "subtitle"
    sub.mkdir(parents=True, exist_ok=True)
    (sub / "vidSHORT01.srt").write_text(
        '1\n00:00:01,000 --> 00:00:03,500\n<font color="white" size=".72c">Christmas trees, apples & candles</font>\n\n'
        '2\n00:00:04,000 --> 00:00:06,000\n<font color="white" size=".72c">first</font> and <font color="white" size=".72c">second</font>\n\n'
        '3\n00:00:07,000 --> 00:00:08,000\nplain line without font\n\n'
        '4\n00:00:09,000 --> 00:00:10,000\n<font color="white" size="X72c">dot is any char</font>\n')
    (sub / "vidMED0302.srt").write_text("1\r\n00:00:01,000 --> 00:00:02,000\r\nno font tags here\r\n")
    return ["videos/vidSHORT01.mp4", "videos/vidMED0302.MP4", "videos/vidLONG601.mkv", "videos/vidLONG602.mp4"], []


MVB_DIRS = {
    "action_sequence": "star/Charades_v1_480", "action_prediction": "star/Charades_v1_480", "object_interaction": "star/Charades_v1_480",
    "action_antonym": "ssv2_video", "fine_grained_action": "Moments_in_Time_Raw/videos", "unexpected_action": "FunQA_test/test",
    "object_existence": "clevrer/video_validation", "moving_direction": "clevrer/video_validation", "moving_count": "clevrer/video_validation",
    "moving_attribute": "clevrer/video_validation", "counterfactual_inference": "clevrer/video_validation",
    "object_shuffle": "perception/videos", "action_count": "perception/videos", "state_change": "perception/videos",
    "character_order": "perception/videos", "action_localization": "sta/sta_video", "scene_transition": "scene_qa/video",
    "fine_grained_pose": "nturgbd", "egocentric_navigation": "vlnqa", "episodic_reasoning": "tvqa/frames_fps3_hq",
}
MVB_CLIP = {"action_sequence", "action_prediction", "object_interaction", "action_localization", "episodic_reasoning"}


def mvbench(d):
    media, frames = [], []
    for k, (sub, folder) in enumerate(sorted(MVB_DIRS.items())):
        rows = []
        for r in range(2 if k % 3 == 0 else 1):
            n = 3 + (k + r) % 3
            cands = [f"{sub} choice {j}" for j in range(n)]
            if r == 1:
                cands[1] = "a cat"
            video = f"{sub}_{r}" if sub == "episodic_reasoning" else (f"left/{k}_{r}.mp4" if sub == "egocentric_navigation" else f"{sub}_{r}.mp4")
            row = {"video": video, "question": f"What happens in {sub} #{r}?", "candidates": cands, "answer": cands[(k + r) % n]}
            if sub in MVB_CLIP:
                row.update(start=1.5 + r, end=17.1 + r)
            if sub == "episodic_reasoning":
                row.update(fps=3, subtitle="(Castle:) hello", show_name="castle")
            rows.append(row)
            (frames if sub == "episodic_reasoning" else media).append(f"video/{folder}/{video}")
        write_json(d / "json" / f"{sub}.json", rows)
    return media, frames


def mlvu(d):
    media = []
    for k, sub in enumerate(["1_plotQA", "2_needle", "3_ego", "4_count", "5_order", "6_anomaly_reco", "7_topic_reasoning"]):
        rows = []
        for r in range(2):
            cands = [f"{sub} answer {j}" for j in range(4)] if sub != "4_count" else ["2", "1", "5", "4"]
            answer = cands[(k + r) % 4]
            if sub == "2_needle" and r == 1:
                answer = "not among the candidates"
            if sub == "6_anomaly_reco" and r == 0:
                cands = ["Normal", "Abuse", "Normal", "Arson"]
                answer = "Normal"
            rows.append({"video": f"{sub}_{r}.mp4", "duration": 246 + r * 0.5, "question": f"What is asked in {sub} number {r}?",
                         "candidates": cands, "answer": answer, "question_type": sub.split("_", 1)[1]})
            media.append(f"video/{sub}/{sub}_{r}.mp4")
        write_json(d / "json" / f"{sub}.json", rows)
    return media, []


def lvbench(d):
    frames = []
    for k, t in enumerate(["cartoon", "documentary", "live", "selfmedia", "sport", "tv"]):
        rows = []
        for r in range(1 + (k % 2)):
            cands = ["(A) News report", "(B) Documentary", "(C) Sporting events", "(D) TV show"]
            video = f"{k:04d}{r:04d}"
            rows.append({"video": video, "type": t, "question": f"What type of video is {t} {r}?", "candidates": cands,
                         "answer": cands[(k + r) % 4], "question_type": ["event understanding", "reasoning"][: 1 + r],
                         "time_reference": "00:00-75:57"})
            frames.append(f"frames/{video}")
        write_json(d / "json" / f"lvbench_clean_{t}.json", rows)
    return [], frames


def longvideobench(d):
    s = pa.schema([("video_id", pa.string()), ("id", pa.string()), ("video_path", pa.string()), ("subtitle_path", pa.string()),
                   ("correct_choice", pa.int64()), ("question", pa.string())] + [(f"option{i}", pa.string()) for i in range(5)]
                  + [("duration", pa.float64()), ("duration_group", pa.int64()), ("question_category", pa.string()),
                     ("topic_category", pa.string()), ("starting_timestamp_for_subtitles", pa.float64())])
    rows = []
    spec = [("vidA", 12.5, 15, "S2E", 0.0, "vidA_en.json"), ("vidA", 12.5, 15, "TOS", 0.0, "vidA_en.json"),
            ("vidB", 190.16, 600, "TOS", 0.0, "vidB.json"), ("vidC", 1500.0, 3600, "E2O", 12.0, "vidC_en.json"),
            ("vidC", 1500.0, 3600, "S2E", 12.0, "vidC_en.json"), ("vidD", 45.0, 60, "T3O", 0.0, "vidD_en.json")]
    for i, (vid, dur, grp, cat, st, sp) in enumerate(spec):
        opts = [f"the man in grey {i}", "a cat", f"(C) red car {i}", f"D. the crowd {i}", "N/A" if i % 2 == 0 else f"E option {i}"]
        rows.append(dict(video_id=vid, id=f"{vid}_{i}", video_path=f"{vid}.mp4", subtitle_path=sp, correct_choice=i % 4,
                         question=f"Which subtitles appear when the man speaks ({i})?", **{f"option{j}": o for j, o in enumerate(opts)},
                         duration=dur, duration_group=grp, question_category=cat, topic_category="NP-News-Programs",
                         starting_timestamp_for_subtitles=st))
    write_parquet(d / "validation-00000-of-00001.parquet", rows, s)
    subs = d / "subtitles"
    write_json(subs / "vidA_en.json", [{"start": "00:00:00.500", "end": "00:00:02.000", "line": "hello there"},
                                       {"start": "00:00:05.100", "end": "00:00:05.300", "line": "short one"},
                                       {"start": "00:00:30.000", "end": "00:00:31.000", "line": "after the end"}])
    write_json(subs / "vidB_en.json", [{"timestamp": [0.0, 3.2], "text": "[applause]"}, {"timestamp": [10.0, 12], "text": "integer end means video end"},
                                       {"timestamp": [100.25, 100.5], "text": "tiny\nwith newline"}, {"timestamp": [150.0, None], "text": "open end"}])
    write_json(subs / "vidC_en.json", [{"timestamp": [12.0, 14.0], "text": "at start"}, {"timestamp": [14.5, 14.9], "text": "between frames?"},
                                       {"timestamp": [700.0, 705.5], "text": "middle"}, {"start": "00:24:50.000", "end": "00:25:10.000", "line": "near end"}])
    write_json(subs / "vidD_en.json", [])
    return ["videos/vidA.mp4", "videos/vidB.mp4", "videos/vidC.mp4", "videos/vidD.mp4"], []


def perceptiontest(d):
    s = pa.schema([("video_name", pa.string()), ("question", pa.string()), ("question_id", pa.string()), ("options", pa.list_(pa.string())),
                   ("answer_id", pa.string()), ("area", pa.string()), ("reasoning", pa.string()), ("tag", pa.list_(pa.string()))])
    rows, media = [], []
    for i in range(6):
        rows.append(dict(video_name=f"video_{1000 + i // 2}", question=f"What did the person do with the cup? ({i})", question_id=f"{i}",
                         options=["put it down", "a cat", "(C) nothing"] + (["fourth one"] if i == 5 else []), answer_id=str(i % 3),
                         area=["physics", "memory", "semantics"][i % 3], reasoning=["descriptive", "predictive"][i % 2], tag=["cup", "action"]))
        media.append(f"videos/video_{1000 + i // 2}.mp4")
    write_parquet(d / "mc_question_val" / "validation-00000-of-00001.parquet", rows, s)
    return sorted(set(media)), []


# ----------------------------------------------------------------------------- official code
def stub_modules():
    class _Logger:
        records = []

        def info(self, msg, *a, **k):
            _Logger.records.append(str(msg))

        error = warning = debug = info

    loguru = types.ModuleType("loguru")
    loguru.logger = _Logger()
    sys.modules["loguru"] = loguru
    for name in ["lmms_eval", "lmms_eval.tasks", "lmms_eval.tasks._task_utils"]:
        sys.modules[name] = types.ModuleType(name)
    fu = types.ModuleType("lmms_eval.tasks._task_utils.file_utils")
    fu.generate_submission_file = lambda *a, **k: "/dev/null"
    sys.modules["lmms_eval.tasks._task_utils.file_utils"] = fu
    sys.modules["lmms_eval.tasks._task_utils"].file_utils = fu
    dec = types.ModuleType("decord")
    dec.VideoReader = object
    dec.cpu = lambda *a: None
    sys.modules["decord"] = dec
    for name in ["cv2", "torch", "PIL", "PIL.Image"]:
        sys.modules[name] = types.ModuleType(name)
    sys.modules["PIL"].Image = sys.modules["PIL.Image"]
    sys.modules["torch"].Tensor = type("Tensor", (), {})
    return _Logger


def import_utils(official, task_dir):
    path = pathlib.Path(official) / "lmms_eval" / "tasks" / task_dir / "utils.py"
    spec = importlib.util.spec_from_file_location(f"official_{task_dir.replace('/', '_')}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def task_yaml(official, rel):
    path = pathlib.Path(official) / "lmms_eval" / "tasks" / rel
    cfg = yaml.load(path.read_text(), Loader=_Loader)
    if "include" in cfg:
        base = task_yaml(official, str(pathlib.Path(rel).parent / cfg["include"]))
        base.update(cfg)
        cfg = base
    return cfg


def specific_kwargs(cfg):
    """lmms-eval's _prepare_model_specific_config for a model without its own entry."""
    kw = cfg.get("lmms_eval_specific_kwargs")
    if kw is None:
        return None
    kw = dict(kw)
    if "default" in kw:
        kw.update(kw["default"])
    return kw


def group_score(subtask_results):
    """lmms-eval evaluator: sub-task scores averaged with weights = sub-task sizes, in order."""
    score, total = None, 0
    for s, n in subtask_results:
        score = s if score is None else (score * total + s * n) / (total + n)
        total += n
    return score


def assignments(n):
    return [[(i * 7 + k * 5) % len(REPLIES) for i in range(n)] for k in range(4)] + [[i % 3 for i in range(n)]]


def main(official):
    Logger = stub_modules()
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        _main(official, Logger)


def _main(official, Logger):
    import random as _random  # noqa: F401
    for task, writer in [("videomme", videomme), ("mvbench", mvbench), ("mlvu_mc", mlvu), ("lvbench", lvbench),
                         ("longvideobench_val_v", longvideobench), ("perceptiontest_val_mc", perceptiontest)]:
        d = OUT / task
        if d.exists():
            for p in sorted(d.rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
        d.mkdir(parents=True, exist_ok=True)
        media, frames = writer(d)
        write_json(d / "media.json", {"files": media, "frame_dirs": frames})

    write_json(OUT / "videomme" / "expected.json", ref_videomme(official, Logger))
    for task, tdir, groups in [("mvbench", "mvbench", None), ("mlvu_mc", "mlvu_mc", None), ("lvbench", "lvbench", None)]:
        write_json(OUT / task / "expected.json", ref_subtasks(official, task))
    write_json(OUT / "longvideobench_val_v" / "expected.json", ref_lvb(official, Logger))
    write_json(OUT / "perceptiontest_val_mc" / "expected.json", ref_perception(official))


def ref_videomme(official, Logger):
    d = OUT / "videomme"
    vm = import_utils(official, "videomme")
    vm.cache_name = str(d)
    docs = pq.read_table(d / "videomme" / "test-00000-of-00001.parquet").to_pylist()
    out = {}
    for task, yml in [("videomme", "videomme/videomme.yaml"), ("videomme_w_subtitle", "videomme/videomme_w_subtitle.yaml")]:
        cfg = task_yaml(official, yml)
        kw = specific_kwargs(cfg)
        fn = getattr(vm, cfg["doc_to_text"].split(".")[-1])
        qs = []
        for doc in docs:
            parsed = []
            for r in REPLIES:
                res = vm.videomme_process_results(doc, [r])["videomme_percetion_score"]
                parsed.append({"answer": res["pred_answer"], "correct": res["pred_answer"] == res["answer"], "answered": True, "random": False})
            qs.append({"id": doc["question_id"], "prompt": fn(doc, kw), "gold": doc["answer"], "parsed": parsed,
                       "settings": {"max_new_tokens": cfg["generation_kwargs"]["max_new_tokens"]}})
        runs = []
        for a in assignments(len(docs)):
            Logger.records.clear()
            results = [vm.videomme_process_results(doc, [REPLIES[i]])["videomme_percetion_score"] for doc, i in zip(docs, a)]
            score = vm.videomme_aggregate_results(results)
            logged = {}
            for line in Logger.records:
                if line.startswith("Evaluation on"):
                    head, val = line.rsplit(":", 1)
                    kind, name = head.split(": ", 1)
                    logged.setdefault(kind.replace("Evaluation on ", ""), {})[name] = val.strip()
            runs.append({"replies": a, "score": score, "logged": logged})
        out[task] = {"questions": qs, "runs": runs}
    out["replies"] = REPLIES
    return out


SUB = {
    "mvbench": ("mvbench", "mvbench/mvbench.yaml", "mvbench_accuracy"),
    "mlvu_mc": ("mlvu_mc", "mlvu_mc/mlvu_mc.yaml", "mlvu_mc_accuracy"),
    "lvbench": ("lvbench", "lvbench/lvbench.yaml", "lvbench_mc_accuracy"),
}


def ref_subtasks(official, task):
    tdir, group_yaml, metric = SUB[task]
    d = OUT / task
    mod = import_utils(official, tdir)
    group = task_yaml(official, group_yaml)
    subs = []
    for sub_task in group["task"]:
        cfg = task_yaml(official, f"{tdir}/{sub_task}.yaml")
        name = cfg["dataset_name"]
        data_file = {"lvbench": f"json/lvbench_clean_{name.replace('lvbench_', '')}.json"}.get(task, f"json/{name}.json")
        docs = json.loads((d / data_file).read_text())
        subs.append((name, cfg, docs))
    qs, flat = [], []
    for name, cfg, docs in subs:
        kw = specific_kwargs(cfg)
        fn = getattr(mod, cfg["doc_to_text"].split(".")[-1])
        proc = getattr(mod, cfg["process_results"].split(".")[-1])
        for i, doc in enumerate(docs):
            parsed = []
            for r in REPLIES:
                res = proc(doc, [r])[metric]
                parsed.append({"correct": bool(res["score"]), "answered": res["pred_answer"] != "", "random": False})
            gold = next((chr(65 + j) for j, c in enumerate(doc["candidates"]) if c == doc["answer"]), "")
            qs.append({"id": f"{name}/{i}", "prompt": fn(doc, kw), "gold": gold, "parsed": parsed,
                       "settings": {"max_new_tokens": cfg["generation_kwargs"]["max_new_tokens"]}})
            flat.append((name, cfg, doc))
    runs = []
    for a in assignments(len(flat)):
        per, k = [], 0
        groups = {}
        for name, cfg, docs in subs:
            proc = getattr(mod, cfg["process_results"].split(".")[-1])
            agg = getattr(mod, cfg["metric_list"][0]["aggregation"].split(".")[-1])
            results = [proc(doc, [REPLIES[a[k + i]]])[metric] for i, doc in enumerate(docs)]
            k += len(docs)
            s = agg(results)
            groups[name] = s
            per.append((s, len(docs)))
        runs.append({"replies": a, "score": group_score(per), "groups": groups})
    return {"replies": REPLIES, task: {"questions": qs, "runs": runs}}


def ref_lvb(official, Logger):
    d = OUT / "longvideobench_val_v"
    lvb = import_utils(official, "longvideobench")
    real_yaml = lvb.yaml

    class FakeYaml:
        @staticmethod
        def safe_load(text):
            cfg = real_yaml.safe_load(text)
            cfg["dataset_kwargs"]["cache_dir"] = str(d)
            return cfg

    lvb.yaml = FakeYaml
    current = {"id": None}

    class FakeRandom:
        @staticmethod
        def choice(choices):
            current["random"] = True
            return choices[fnv1a(current["id"]) % len(choices)]

    lvb.random = FakeRandom
    cfg = task_yaml(official, "longvideobench/longvideobench_val_v.yaml")
    kw = specific_kwargs(cfg)
    docs = pq.read_table(d / "validation-00000-of-00001.parquet").to_pylist()

    def proc(doc, r):
        current["id"], current["random"] = doc["id"], False
        res = lvb.longvideobench_process_results(doc, [r])["lvb_acc"]
        return res, current["random"]

    qs = []
    for doc in docs:
        parsed = []
        for r in REPLIES:
            res, rnd = proc(doc, r)
            parsed.append({"answer": res["parsed_pred"], "correct": res["parsed_pred"] == res["answer"], "answered": True, "random": rnd})
        qs.append({"id": doc["id"], "prompt": lvb.longvideobench_doc_to_text(doc, kw), "gold": chr(65 + doc["correct_choice"]),
                   "parsed": parsed, "settings": {"max_new_tokens": cfg["generation_kwargs"]["max_new_tokens"]}})
    runs = []
    for a in assignments(len(docs)):
        Logger.records.clear()
        results = [proc(doc, REPLIES[i])[0] for doc, i in zip(docs, a)]
        score = lvb.longvideobench_aggregate_results(results)
        printable = {str(k): v["acc"] for k, v in eval(Logger.records[-1]).items() if k != "Overall"}
        runs.append({"replies": a, "score": score, "groups": printable})
    return {"replies": REPLIES, "longvideobench_val_v": {"questions": qs, "runs": runs}}


def ref_perception(official):
    d = OUT / "perceptiontest_val_mc"
    pt = import_utils(official, "perceptiontest/val")
    cfg = task_yaml(official, "perceptiontest/val/perceptiontest_mc.yaml")
    kw = specific_kwargs(cfg)
    docs = pq.read_table(d / "mc_question_val" / "validation-00000-of-00001.parquet").to_pylist()
    qs = []
    for i, doc in enumerate(docs):
        parsed = []
        for r in REPLIES:
            res = pt.perceptiontest_val_process_results_mc(doc, [r])["accuracy"]
            parsed.append({"answer": "" if res["pred_id"] < 0 else chr(65 + res["pred_id"]), "correct": res["correct"] == 1,
                           "answered": True, "random": False})
        qs.append({"id": f"mc_question_val/{i}", "prompt": pt.perceptiontest_val_doc_to_text(doc, kw), "gold": chr(65 + int(doc["answer_id"])),
                   "parsed": parsed, "settings": {"max_new_tokens": (cfg.get("generation_kwargs") or {}).get("max_new_tokens", 1024)}})
    runs = []
    for a in assignments(len(docs)):
        results = [pt.perceptiontest_val_process_results_mc(doc, [REPLIES[i]])["accuracy"] for doc, i in zip(docs, a)]
        runs.append({"replies": a, "score": pt.perceptiontest_val_aggregate_accuracy(results, None), "groups": {}})
    return {"replies": REPLIES, "perceptiontest_val_mc": {"questions": qs, "runs": runs}}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
