"""The methods by family, named as the spec's oneof fields; no proto or MLX here, so every domain module can use it."""

POLICY_METHODS = ("grpo", "gspo", "dr_grpo")  # sample completions, score them, optimise a clipped policy ratio
PREFERENCE_METHODS = ("dpo", "orpo", "cpo")  # learn from chosen / rejected pairs
# Sample completions during training and learn from a judge's pairs or a scorer's rewards (worker/online).
PAIRWISE_ONLINE_METHODS = ("online_dpo", "xpo")
ONLINE_METHODS = (*PAIRWISE_ONLINE_METHODS, "rlhf", "ppo")
PROMPT_METHODS = (*POLICY_METHODS, *ONLINE_METHODS)  # train on prompts (with checkable answers)
METHODS = ("sft", *POLICY_METHODS, *PREFERENCE_METHODS, *ONLINE_METHODS)
