from __future__ import annotations

from django import forms

from agents.templates import TEMPLATES
from tenants.apikeys import SCOPES


class FromTemplateForm(forms.Form):
    template = forms.ChoiceField(choices=[(t.key, t.name) for t in TEMPLATES.values()])
    slug = forms.CharField(max_length=40, help_text="Lowercase letters, digits and hyphens; used in keys and URLs.")
    name = forms.CharField(max_length=100, required=False, help_text="Leave empty to use the template's name.")


class AgentForm(forms.Form):
    name = forms.CharField(max_length=100)
    persona = forms.CharField(widget=forms.Textarea, required=False, max_length=4000)
    reply_style = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False, max_length=2000)
    platform_accounts = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False,
        help_text="One per line: platform=account id, e.g. qq=10001 (how the agent knows it was mentioned).",
    )
    is_active = forms.BooleanField(required=False)

    def clean_platform_accounts(self) -> dict[str, str]:
        accounts = {}
        for line in self.cleaned_data["platform_accounts"].splitlines():
            if not line.strip():
                continue
            platform, sep, account = line.partition("=")
            if not sep or not platform.strip() or not account.strip():
                raise forms.ValidationError(f"Write “platform=account id”, not “{line.strip()}”.")
            accounts[platform.strip()] = account.strip()
        return accounts


class CloneForm(forms.Form):
    slug = forms.CharField(max_length=40)
    name = forms.CharField(max_length=100, required=False)


class KeyForm(forms.Form):
    name = forms.CharField(max_length=100, initial="adapter")
    scopes = forms.MultipleChoiceField(choices=[(s, s) for s in SCOPES], initial=["chat"], widget=forms.CheckboxSelectMultiple)


class ProviderForm(forms.Form):
    name = forms.CharField(max_length=60)
    base_url = forms.CharField(max_length=300, help_text="e.g. https://api.deepseek.com/v1")
    api_key = forms.CharField(max_length=500, required=False, widget=forms.PasswordInput, help_text="Stored encrypted; never shown again.")
    timeout_seconds = forms.FloatField(initial=30, min_value=1, max_value=600)
    max_retries = forms.IntegerField(initial=2, min_value=0, max_value=10)


class ModelForm(forms.Form):
    name = forms.CharField(max_length=100)
    provider = forms.CharField(max_length=60)
    identifier = forms.CharField(max_length=200)
    price_in = forms.DecimalField(initial=0, min_value=0, decimal_places=6, help_text="per million input tokens")
    price_out = forms.DecimalField(initial=0, min_value=0, decimal_places=6, help_text="per million output tokens")


class TomlForm(forms.Form):
    toml = forms.CharField(widget=forms.Textarea(attrs={"rows": 10}), label="model_config.toml")
