"""The chat template the offline presets ship with.

Why a custom one: rows that come back from ``datasets`` carry every struct key (missing ones become ``None``), so a
template that tests ``'video' in content`` renders text parts as video placeholders. This one dispatches on
``content['type']`` only. It follows the Qwen2-VL layout (``<|im_start|>role\\n...<|im_end|>\\n``) so prompts built
for the offline presets look exactly like prompts for the real Qwen2.5-VL checkpoints.
"""

QWEN_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}"
    "{{ message['content'] }}"
    "{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'video' %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'text' %}"
    "{{ content['text'] }}"
    "{% endif %}"
    "{% endfor %}"
    "{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}"
    "<|im_start|>assistant\n"
    "{% endif %}"
)
