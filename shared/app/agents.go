package app

import (
	"context"
	"errors"
	"time"

	"github.com/livingprofile/livingprofile/shared/drp"
	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
)

// Agent is a DRP authorized agent the brand registered: its verify key, and once paired,
// the hash of its bearer token. It holds no personal data.
type Agent struct {
	ID        string `json:"id"`
	VerifyKey string `json:"verifyKey"` // Base64 Ed25519 public key
	// SalePurpose is the catalog purpose a sale:opt-out objects to; "" refuses opt-outs.
	SalePurpose string     `json:"salePurpose,omitempty"`
	TokenHash   string     `json:"tokenHash,omitempty"`
	CreatedAt   time.Time  `json:"createdAt"`
	PairedAt    *time.Time `json:"pairedAt,omitempty"`
}

// AgentStore keeps agents.
type AgentStore interface {
	// PutAgent stores a (replacing any agent of its id).
	PutAgent(ctx context.Context, tenant string, a Agent) error
	// Agent reads one agent; NotFound when absent.
	Agent(ctx context.Context, tenant, id string) (*Agent, error)
}

// ErrAgentRefused is the refusal of a pairing or a request whose agent, token or signature
// does not hold. DRP answers it 403 with no body (section 2.05.1); it says no more.
var ErrAgentRefused = errs.E(errs.Forbidden, "the agent, its token or its signature is not accepted")

// RegisterAgent registers (or re-registers, which ends its pairing) an authorized agent of
// the tenant by its id and verify key, with the purpose its sale:opt-out requests object
// to.
func (p *Protocols) RegisterAgent(ctx context.Context, tenant, id, verifyKey, salePurpose string) (*Agent, error) {
	var f errs.Fields
	if !drp.ValidID(id) {
		f.Add("id", "must be 1 to 64 letters, digits, _ or -")
	}
	if _, err := drp.ParseVerifyKey(verifyKey); err != nil {
		f.Join(err)
	}
	if salePurpose != "" {
		cat, err := p.svc.Catalog(ctx, tenant)
		if err != nil {
			return nil, err
		}
		if pur, ok := cat.Purpose(salePurpose); !ok {
			f.Unmet("salePurpose", "unknown purpose")
		} else if !pur.Objectable() {
			f.Unmet("salePurpose", objectionRefusal(pur.LegalBasis))
		}
	}
	if err := f.Err(); err != nil {
		return nil, err
	}
	a := Agent{ID: id, VerifyKey: verifyKey, SalePurpose: salePurpose, CreatedAt: p.svc.now().UTC()}
	return &a, p.agents.PutAgent(ctx, tenant, a)
}

// PairAgent answers a pair-wise key setup (section 2.05): body is the agent's signed
// message. The tenant id is the business id. A new pairing replaces the agent's token.
func (p *Protocols) PairAgent(ctx context.Context, tenant, agentID string, body []byte) (drp.PairingResult, error) {
	a, msg, err := p.openAs(ctx, tenant, agentID, body)
	if err != nil {
		return drp.PairingResult{}, err
	}
	if _, err := drp.ParsePairing(msg, a.ID, tenant, p.svc.now()); err != nil {
		// Section 2.05.1 answers a failed validation 403; the problem still names the claim.
		if e, ok := errs.As(err); ok {
			return drp.PairingResult{}, &errs.Error{Code: errs.Forbidden, Message: "the pairing message is not accepted", Fields: e.Fields}
		}
		return drp.PairingResult{}, err
	}
	token, hash := drp.NewToken(a.ID)
	now := p.svc.now().UTC()
	a.TokenHash, a.PairedAt = hash, &now
	if err := p.agents.PutAgent(ctx, tenant, *a); err != nil {
		return drp.PairingResult{}, err
	}
	return drp.PairingResult{AgentID: a.ID, Token: token}, nil
}

// openAs finds agentID and opens body with its key.
func (p *Protocols) openAs(ctx context.Context, tenant, agentID string, body []byte) (*Agent, []byte, error) {
	if !drp.ValidID(agentID) {
		return nil, nil, ErrAgentRefused
	}
	a, err := p.agents.Agent(ctx, tenant, agentID)
	if errs.CodeOf(err) == errs.NotFound {
		return nil, nil, ErrAgentRefused
	}
	if err != nil {
		return nil, nil, err
	}
	key, err := drp.ParseVerifyKey(a.VerifyKey)
	if err != nil {
		return nil, nil, err
	}
	msg, err := drp.Open(key, body)
	if errors.Is(err, drp.ErrBadSignature) {
		return nil, nil, ErrAgentRefused
	}
	return a, msg, err
}

// agentOf authenticates a bearer token.
func (p *Protocols) agentOf(ctx context.Context, tenant, token string) (*Agent, error) {
	id, ok := drp.AgentOfToken(token)
	if !ok {
		return nil, ErrAgentRefused
	}
	a, err := p.agents.Agent(ctx, tenant, id)
	if errs.CodeOf(err) == errs.NotFound || err == nil && !drp.TokenMatches(a.TokenHash, token) {
		return nil, ErrAgentRefused
	}
	return a, err
}

// Exercise files a DRP exercise (section 2.01) by the agent of token, body its signed
// message, as an ordinary request. The agent's word is not the person's proof: the request
// is unverified, so an access or a deletion waits for the person's emailed confirmation.
func (p *Protocols) Exercise(ctx context.Context, tenant, token string, body []byte, w RequestWrite) (drp.Status, error) {
	a, err := p.agentOf(ctx, tenant, token)
	if err != nil {
		return drp.Status{}, err
	}
	key, err := drp.ParseVerifyKey(a.VerifyKey)
	if err != nil {
		return drp.Status{}, err
	}
	msg, err := drp.Open(key, body)
	if errors.Is(err, drp.ErrBadSignature) {
		return drp.Status{}, ErrAgentRefused
	} else if err != nil {
		return drp.Status{}, err
	}
	x, err := drp.ParseExercise(msg, a.ID, tenant, p.svc.now())
	if err != nil {
		return drp.Status{}, err
	}
	typ, err := drp.TypeOf(x.Action)
	if err != nil {
		return drp.Status{}, err
	}
	in := RequestInput{Type: typ, Verification: dsr.Unverified}
	if typ == dsr.Objection {
		if a.SalePurpose == "" {
			return drp.Status{}, errs.Unmet("exercise", "the brand has named no purpose as its sale of data for this agent: sale:opt-out is not accepted")
		}
		in.Purpose = a.SalePurpose
	}
	it, iv := x.Identity()
	in.Identity = &IdentityInput{Type: it, Value: iv}
	res, err := p.svc.CreateRequest(ctx, tenant, in, w)
	if err != nil {
		return drp.Status{}, renameField(err, "identity", it)
	}
	f := Filing{Protocol: ProtocolDRP, ExternalID: res.Request.ID, Regulation: x.RegimeOrVoluntary(), AgentID: a.ID, AgentRequestID: x.AgentRequestID}
	if x.StatusCallback != "" {
		f.Callbacks = []string{x.StatusCallback}
	}
	switch err := p.filings.ReserveFiling(ctx, tenant, f); {
	case errors.Is(err, ErrFilingExists):
		prior, err := p.filings.Filing(ctx, tenant, ProtocolDRP, res.Request.ID)
		if err != nil {
			return drp.Status{}, err
		}
		if prior.AgentID != a.ID {
			return drp.Status{}, errs.E(errs.Conflict, "an open request of this kind exists for the person")
		}
		return drp.StatusOfRequest(res.Request, prior.AgentRequestID), nil
	case err != nil:
		return drp.Status{}, err
	}
	if res.Duplicate {
		// The open request was made another way (the brand, the portal): it is not this
		// agent's to follow.
		_ = p.filings.DeleteFiling(ctx, tenant, ProtocolDRP, res.Request.ID)
		return drp.Status{}, errs.E(errs.Conflict, "an open request of this kind exists for the person")
	}
	return drp.StatusOfRequest(res.Request, x.AgentRequestID), nil
}

// renameField renames the from field of a refusal to the claim it came from.
func renameField(err error, from, to string) error {
	e, ok := errs.As(err)
	if !ok {
		return err
	}
	out := *e
	out.Fields = make([]errs.FieldError, len(e.Fields))
	for i, fe := range e.Fields {
		if fe.Field == from || len(fe.Field) > len(from) && fe.Field[:len(from)+1] == from+"." {
			fe.Field = to
		}
		out.Fields[i] = fe
	}
	return &out
}

// drpFiling returns the request filed as id by the agent of token; another agent's is
// Forbidden (section 2.02.1), an unknown one NotFound.
func (p *Protocols) drpFiling(ctx context.Context, tenant, token, id string) (*Filing, error) {
	a, err := p.agentOf(ctx, tenant, token)
	if err != nil {
		return nil, err
	}
	if !ValidRequestID(id) {
		return nil, errs.E(errs.NotFound, "request not found")
	}
	f, err := p.filings.Filing(ctx, tenant, ProtocolDRP, id)
	if err != nil {
		return nil, err
	}
	if f.AgentID != a.ID {
		return nil, errs.E(errs.Forbidden, "the request is not this agent's")
	}
	return f, nil
}

// DRPStatus returns the status of a request the agent of token filed (section 2.02).
func (p *Protocols) DRPStatus(ctx context.Context, tenant, token, id string) (drp.Status, error) {
	f, err := p.drpFiling(ctx, tenant, token, id)
	if err != nil {
		return drp.Status{}, err
	}
	r, err := p.svc.GetRequest(ctx, tenant, id)
	if err != nil {
		return drp.Status{}, err
	}
	return drp.StatusOfRequest(r, f.AgentRequestID), nil
}

// Revoke cancels a request the agent of token filed (section 2.04); body is its signed
// message. The answer holds the new revoked state.
func (p *Protocols) Revoke(ctx context.Context, tenant, token, id string, body []byte, w RequestWrite) (drp.Status, error) {
	f, err := p.drpFiling(ctx, tenant, token, id)
	if err != nil {
		return drp.Status{}, err
	}
	_, msg, err := p.openAs(ctx, tenant, f.AgentID, body)
	if err != nil {
		return drp.Status{}, err
	}
	if _, err := drp.ParseRevoke(msg); err != nil {
		return drp.Status{}, err
	}
	r, err := p.svc.CancelRequest(ctx, tenant, id, w)
	if err != nil {
		return drp.Status{}, err
	}
	return drp.StatusOfRequest(r, f.AgentRequestID), nil
}
