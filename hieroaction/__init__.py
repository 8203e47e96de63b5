"""HieroAction: a vision-language model that assesses actions step by step (recognise, locate and judge each
sub-action, score), with the data, training and evaluation code to build it. Never imports dagster."""

__version__ = "0.1.0"
