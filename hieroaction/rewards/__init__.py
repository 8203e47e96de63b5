"""Hierarchical rewards for GRPO: format -> action -> sub-actions -> score, each in [0, 1], trl-compatible.

Level definitions: :mod:`hieroaction.rewards.levels`; combination: :mod:`hieroaction.rewards.config`."""

from hieroaction.rewards.columns import COLUMNS, Gold, gold_rows, reward_columns, score_range
from hieroaction.rewards.config import LEVELS, RewardConfig, Stage
from hieroaction.rewards.functions import action_reward, format_reward, score_reward, steps_reward
from hieroaction.rewards.hierarchical import HierarchicalReward
from hieroaction.rewards.levels import action_value, format_value, score_value, steps_value

__all__ = [
    "COLUMNS",
    "LEVELS",
    "Gold",
    "HierarchicalReward",
    "RewardConfig",
    "Stage",
    "action_reward",
    "action_value",
    "format_reward",
    "format_value",
    "gold_rows",
    "reward_columns",
    "score_range",
    "score_reward",
    "score_value",
    "steps_reward",
    "steps_value",
]
