"""Building and loading the vision-language model: offline presets (random weights, trained tokenizer) and real
checkpoints from a local path, with LoRA and a frozen vision tower as options."""
