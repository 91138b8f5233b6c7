"""Sign-in pages shared by the public host and tenant hosts."""
from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from tenants import views as tenant_views

auth_patterns = [
    path("login/", tenant_views.TenantLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(template_name="dashboard/password_reset.html", email_template_name="dashboard/password_reset_email.txt", subject_template_name="dashboard/password_reset_subject.txt"), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(template_name="dashboard/password_reset_done.html"), name="password_reset_done"),
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(template_name="dashboard/password_reset_confirm.html"), name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(template_name="dashboard/password_reset_complete.html"), name="password_reset_complete"),
]
