"""Strict config loading: unknown keys, types, overrides, validation, round trips."""

import dataclasses
import re
import textwrap

import pytest

from mmrl.config import (
    Config,
    ConfigError,
    EnvSpec,
    RolloutConfig,
    apply_overrides,
    from_dict,
    load_config,
    save_config,
    to_dict,
    validate,
)


def write(tmp_path, text: str):
    path = tmp_path / "cfg.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_defaults_load_with_path_none():
    cfg = load_config(None)
    assert cfg == Config()
    assert cfg.envs == [EnvSpec(id="mmrl/Classification-v0")]


def test_yaml_values_are_loaded(tmp_path):
    path = write(
        tmp_path,
        """
        envs:
          - id: mmrl/Classification-v0
            weight: 2
            kwargs: {split: train, nested: {a: [1, 2]}}
          - id: mypkg:my/Env-v0
        rollout: {group_size: 4}
        optim: {lr: 1e-4, betas: [0.9, 0.95]}
        model: {path: null}
    """,
    )
    cfg = load_config(path)
    assert cfg.envs[0].weight == 2.0 and isinstance(cfg.envs[0].weight, float)
    assert cfg.envs[0].kwargs == {"split": "train", "nested": {"a": [1, 2]}}
    assert cfg.envs[1] == EnvSpec(id="mypkg:my/Env-v0")
    assert cfg.rollout.group_size == 4
    assert cfg.rollout.groups_per_step == RolloutConfig().groups_per_step  # untouched default
    assert cfg.optim.lr == pytest.approx(1e-4)  # YAML 1.1 would read '1e-4' as a string
    assert cfg.optim.betas == [0.9, 0.95]


def test_typo_in_yaml_names_dotted_place_and_suggestion(tmp_path):
    path = write(tmp_path, "rollout:\n  grup_size: 4\n")
    with pytest.raises(
        ConfigError, match=r"unknown key 'rollout\.grup_size' \(did you mean 'group_size'\?\)"
    ):
        load_config(path)


def test_typo_in_override_reported_the_same_way():
    with pytest.raises(
        ConfigError, match=r"unknown key 'rollout\.grup_size' \(did you mean 'group_size'\?\)"
    ):
        load_config(None, ["rollout.grup_size=4"])


def test_unknown_key_without_close_match_lists_valid_keys():
    with pytest.raises(ConfigError, match=r"unknown key 'xyzzy' \(valid keys: envs, model, rollout"):
        load_config(None, ["xyzzy=1"])


def test_nested_typo_place(tmp_path):
    path = write(tmp_path, "model:\n  lora:\n    alpah: 8\n")
    with pytest.raises(ConfigError, match=r"unknown key 'model\.lora\.alpah' \(did you mean 'alpha'\?\)"):
        load_config(path)


def test_list_item_typo_shows_index(tmp_path):
    path = write(
        tmp_path,
        """
        envs:
          - id: a/A-v0
          - id: b/B-v0
            wieght: 2
    """,
    )
    with pytest.raises(ConfigError, match=r"unknown key 'envs\[1\]\.wieght' \(did you mean 'weight'\?\)"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"unknown key 'envs\[0\]\.idd' \(did you mean 'id'\?\)"):
        load_config(None, ["envs.0.idd=x"])


def test_missing_required_env_id():
    with pytest.raises(ConfigError, match=r"missing required key 'envs\[0\]\.id'"):
        load_config(None, ["envs=[{weight: 2}]"])


def test_yaml_list_override_for_envs():
    cfg = load_config(
        None, ["envs=[{id: mypkg:MyEnv-v0, kwargs: {style: think}}, {id: a/B-v1, weight: 0.5}]"]
    )
    assert cfg.envs == [
        EnvSpec(id="mypkg:MyEnv-v0", kwargs={"style": "think"}),
        EnvSpec(id="a/B-v1", weight=0.5),
    ]


def test_scalar_overrides_and_null():
    cfg = load_config(
        None,
        [
            "train.total_steps=10",
            "model.path=null",
            "optim.lr=1e-4",
            "train.progress=false",
            "rollout.system_prompt=You are a helpful agent.",
        ],
    )
    assert cfg.train.total_steps == 10
    assert cfg.model.path is None
    assert cfg.optim.lr == pytest.approx(1e-4)
    assert cfg.train.progress is False
    assert cfg.rollout.system_prompt == "You are a helpful agent."


def test_override_indexes_lists_and_reaches_into_default_envs():
    cfg = load_config(None, ["envs.0.kwargs.style=think", "envs.0.eval_kwargs.split=test"])
    assert cfg.envs[0].kwargs == {"style": "think"}
    assert cfg.envs[0].eval_kwargs == {"split": "test"}


def test_override_overrides_yaml_and_later_override_wins(tmp_path):
    path = write(tmp_path, "rollout: {group_size: 4}\ntrain: {total_steps: 3}\n")
    cfg = load_config(path, ["rollout.group_size=2", "rollout.group_size=6"])
    assert cfg.rollout.group_size == 6
    assert cfg.train.total_steps == 3


def test_apply_overrides_creates_intermediate_sections_and_copies():
    data = {"train": {"seed": 1}}
    out = apply_overrides(data, ["model.lora.r=8", "train.seed=2"])
    assert out == {"train": {"seed": 2}, "model": {"lora": {"r": 8}}}
    assert data == {"train": {"seed": 1}}  # input untouched
    assert from_dict(Config, out).model.lora.r == 8


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.total_steps", r"malformed override 'train\.total_steps'"),
        ("=3", r"malformed override '=3'"),
        ("train..seed=3", r"malformed override"),
        ("envs.5.id=x", r"index 5 is out of range for 'envs' \(length 1\)"),
        ("envs.first.id=x", r"'envs' is a list; index it with a number"),
        ("train.seed.x=1", r"cannot set 'train\.seed\.x' because 'train\.seed' is int"),
        ("train.seed=[1", r"value is not valid YAML"),
    ],
)
def test_malformed_overrides(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.progress=1", r"'train\.progress' expects bool, got int 1"),
        ("train.total_steps=true", r"'train\.total_steps' expects int, got bool True"),
        ("train.total_steps=2.5", r"'train\.total_steps' expects int, got float 2\.5"),
        ("train.total_steps=null", r"'train\.total_steps' expects int, got NoneType None"),
        ("optim.lr=fast", r"'optim\.lr' expects float, got str 'fast'"),
        ("optim.lr=true", r"'optim\.lr' expects float, got bool True"),
        ("model.path=3", r"'model\.path' expects str or None, got int 3"),
        ("model.tiny=null", r"'model\.tiny' must be one of vl, text; got None"),
        ("optim.betas=[0.9, x]", r"'optim\.betas\[1\]' expects float, got str 'x'"),
        ("optim.betas=0.9", r"'optim\.betas' expects list\[float\], got float 0\.9"),
        ("model=7", r"'model' expects a mapping \(ModelConfig\), got int 7"),
        ("envs=[mmrl/X-v0]", r"'envs\[0\]' expects a mapping \(EnvSpec\), got str"),
        ("envs.0.kwargs=[1]", r"'envs\[0\]\.kwargs' expects dict\[str, Any\], got list"),
        ("envs.0.kwargs={1: a}", r"'envs\[0\]\.kwargs' keys must be strings"),
        ("eval.pass_k=[1, 2.0]", r"'eval\.pass_k\[1\]' expects int, got float 2\.0"),
    ],
)
def test_type_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_float_accepts_int():
    cfg = load_config(None, ["optim.lr=1", "envs.0.weight=3"])
    assert cfg.optim.lr == 1.0 and isinstance(cfg.optim.lr, float)
    assert cfg.envs[0].weight == 3.0 and isinstance(cfg.envs[0].weight, float)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["rollout.backend=vlm"],
            r"'rollout\.backend' must be one of hf, vllm; got 'vlm' \(did you mean 'vllm'\?\)",
        ),
        (["algo.advantage=ppo"], r"'algo\.advantage' must be one of grpo, drgrpo"),
        (["algo.loss_agg=mean"], r"'algo\.loss_agg' must be one of token-mean, seq-mean-token-mean"),
        (["algo.kl_estimator=k4"], r"'algo\.kl_estimator' must be one of k1, k2, k3"),
        (["optim.schedule=step"], r"'optim\.schedule' must be one of constant, linear, cosine"),
        (["model.tiny=image"], r"'model\.tiny' must be one of vl, text"),
        (["model.dtype=fp16"], r"'model\.dtype' must be one of float32, bfloat16, float16"),
        (["model.attn_implementation=flash_attention"],
         r"'model\.attn_implementation' must be one of sdpa, eager, flash_attention_2; got 'flash_attention' "
         r"\(did you mean 'flash_attention_2'\?\)"),
        (["model.attn_implementation=flash_attention_2"],
         r"'model\.attn_implementation' flash_attention_2 needs model\.dtype bfloat16 or float16; got float32"),
        (["rollout.group_size=0"], r"'rollout\.group_size' must be > 0; got 0"),
        (["rollout.groups_per_step=-1"], r"'rollout\.groups_per_step' must be > 0"),
        (["rollout.max_new_tokens=0"], r"'rollout\.max_new_tokens' must be > 0"),
        (["train.total_steps=0"], r"'train\.total_steps' must be > 0"),
        (["algo.minibatch_size=0"], r"'algo\.minibatch_size' must be > 0"),
        (["optim.grad_accum_steps=0"], r"'optim\.grad_accum_steps' must be > 0"),
        (
            ["algo.minibatch_size=10", "optim.grad_accum_steps=4"],
            r"'algo\.minibatch_size' must be divisible by optim\.grad_accum_steps \(4\); got 10",
        ),
        (
            ["eval.pass_k=[1, 4]", "eval.samples_per_episode=2"],
            r"'eval\.pass_k\[1\]' must be in \[1, eval\.samples_per_episode\]",
        ),
        (["envs=[]"], r"'envs' must be a non-empty list"),
        (["envs.0.weight=0"], r"'envs\[0\]\.weight' must be > 0"),
        (["rollout.top_p=0"], r"'rollout\.top_p' must be in \(0, 1\]"),
        (["train.sft_target=random"], r"'train\.sft_target' must be one of expert, random_admissible"),
    ],
)
def test_validation_errors(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_validation_lists_every_problem():
    with pytest.raises(ConfigError) as info:
        load_config(None, ["rollout.group_size=0", "train.total_steps=0"])
    assert "rollout.group_size" in str(info.value) and "train.total_steps" in str(info.value)


def test_validate_passes_defaults():
    validate(Config())


def test_round_trip_to_dict_from_dict():
    cfg = load_config(
        None,
        [
            "envs=[{id: a/A-v0, kwargs: {x: [1, {y: 2}]}}, {id: b/B-v0, weight: 0.25}]",
            "model.lora.r=4",
            "rollout.system_prompt=hi",
            "train.output_dir=/tmp/x",
        ],
    )
    data = to_dict(cfg)
    assert isinstance(data["envs"][0], dict) and isinstance(data["model"]["lora"], dict)
    assert from_dict(Config, data) == cfg
    # to_dict is a deep copy: editing it leaves cfg alone
    data["envs"][0]["kwargs"]["x"].append(3)
    assert cfg.envs[0].kwargs == {"x": [1, {"y": 2}]}


def test_save_and_load_round_trip(tmp_path):
    cfg = load_config(None, ["optim.lr=1e-5", "envs.0.kwargs.split=train", "eval.pass_k=[1]"])
    path = tmp_path / "run" / "config.yaml"
    save_config(cfg, path)
    assert load_config(path) == cfg


def test_from_dict_on_a_section_with_where():
    with pytest.raises(ConfigError, match=r"unknown key 'rollout\.grup_size'"):
        from_dict(RolloutConfig, {"grup_size": 3}, where="rollout")
    assert from_dict(RolloutConfig, {"group_size": 3}).group_size == 3


def test_from_dict_does_not_alias_input():
    data = {"envs": [{"id": "a/A-v0", "kwargs": {"k": [1]}}]}
    cfg = from_dict(Config, data)
    data["envs"][0]["kwargs"]["k"].append(2)
    assert cfg.envs[0].kwargs == {"k": [1]}


def test_file_errors(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_config(missing)
    not_mapping = write(tmp_path, "- a\n- b\n")
    with pytest.raises(ConfigError, match=r"must hold a mapping at the top level, got list"):
        load_config(not_mapping)
    bad = tmp_path / "bad.yaml"
    bad.write_text("rollout: {group_size: 4\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not valid YAML"):
        load_config(bad)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert load_config(empty) == Config()


def test_config_error_is_value_error():
    assert issubclass(ConfigError, ValueError)


def test_every_field_has_a_docstring():
    """Each config field carries a one-line docstring (a string literal under it), as STYLE.md asks."""
    import ast
    import inspect

    import mmrl.config as module

    tree = ast.parse(inspect.getsource(module))
    dataclass_defs = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and dataclasses.is_dataclass(getattr(module, node.name))
    ]
    assert len(dataclass_defs) == 11
    for cls in dataclass_defs:
        for i, node in enumerate(cls.body):
            if isinstance(node, ast.AnnAssign):
                nxt = cls.body[i + 1] if i + 1 < len(cls.body) else None
                assert isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant), (
                    f"{cls.name}.{node.target.id} has no docstring"
                )


@pytest.mark.parametrize(
    "overrides, place",
    [(["algo.gamma=0.5"], "algo.gamma"), (["algo.thought_coef=0.1"], "algo.thought_coef"),
     (["algo.name=ppo", "algo.advantage=drgrpo"], "algo.advantage"), (["gtr.cloning_coef=2.0"], "gtr.cloning_coef"),
     (["algo.name=ppo", "gtr.corrector=oracle", "gtr.model=gpt-4o"], "gtr.model"),
     (["algo.kl_estimator=k1"], "algo.kl_estimator"), (["model.lora.alpha=8"], "model.lora.alpha")],
)
def test_a_setting_without_effect_is_an_error_naming_it(overrides, place):
    with pytest.raises(ConfigError, match=re.escape(f"'{place}' has no effect")):
        load_config(None, overrides)


def test_the_same_settings_are_fine_where_they_act():
    load_config(None, ["algo.name=ppo", "algo.gamma=0.5", "algo.thought_coef=0.1", "gtr.corrector=oracle",
                       "gtr.cloning_coef=2.0", "algo.kl_coef=0.1", "algo.kl_estimator=k1"])


def test_typed_choices_match_the_modules_that_implement_them():
    import typing

    from mmrl.config import DType
    from mmrl.models.loading import _DTYPES

    assert set(typing.get_args(DType)) == set(_DTYPES)


def test_a_run_saved_with_the_removed_action_marker_gets_a_clear_message():
    with pytest.raises(ConfigError, match=r"'algo\.action_marker' was removed: each env's response format"):
        load_config(None, ["algo.action_marker=x"])


def test_the_episode_cap_is_set_once_in_rollout():
    with pytest.raises(ConfigError, match=r"'envs\[0\]\.kwargs\.max_steps' \(5\) differs from rollout\.max_episode_steps"):
        load_config(None, ["envs=[{id: mmrl/Blackjack-v0, kwargs: {max_steps: 5}}]", "rollout.max_episode_steps=3"])
    load_config(None, ["envs=[{id: mmrl/Blackjack-v0, kwargs: {max_steps: 3}}]", "rollout.max_episode_steps=3"])


def test_the_history_length_is_set_once_in_rollout():
    with pytest.raises(ConfigError, match=r"'envs\[0\]\.eval_kwargs\.history_turns' \(1\) differs from rollout\.history_turns"):
        load_config(None, ["envs=[{id: mmrl/Blackjack-v0, eval_kwargs: {history_turns: 1}}]", "rollout.history_turns=3"])


def test_envs_that_count_steps_get_the_runners_episode_cap(tiny_text):
    from mmrl.config import EnvSpec, RolloutConfig
    from mmrl.rollout.backends import HFBackend
    from mmrl.rollout.runner import EnvPool, EpisodeRunner

    pool = EnvPool([EnvSpec("mmrl/Blackjack-v0", kwargs={"render_image": False})])
    EpisodeRunner(pool, tiny_text, HFBackend(tiny_text), RolloutConfig(max_episode_steps=7))
    assert pool.get(0, 0).unwrapped.max_steps == 7
    pool.close()
