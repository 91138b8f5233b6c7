"""The REST layer shared by every app's `/api/v2/` endpoints.

Writing an endpoint:

    class AgentList(TenantAPIView):
        required_scopes = {"GET": "config_read", "POST": "config_write"}
        required_roles = {"GET": "viewer", "POST": "member"}

        def get(self, request):
            agents = visible_agents(request)          # only what the caller may see
            return self.paginate(agents, AgentSerializer)

        def post(self, request):
            agent = services.create_agent(...)        # the service validates and audits
            return Response(AgentSerializer(agent).data, status=201)

- Success bodies are wrapped in the envelope by `envelope.EnvelopeRenderer`; errors by
  `envelope.handle_exception`. Raise `errors.ApiError` (or Django's ValidationError /
  Http404) from anywhere below a view.
- The tenant comes from the API key or the host (`authentication`), never from the body.
  `access.get_agent_or_404` is the one way to reach an agent: another tenant's or (with a
  key) another agent's answers 404.
"""
