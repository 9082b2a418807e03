package app

import (
	"context"
	"errors"

	"github.com/livingprofile/livingprofile/shared/dsr"
	"github.com/livingprofile/livingprofile/shared/errs"
	"github.com/livingprofile/livingprofile/shared/opendsr"
)

// Filing records that a request was filed by a protocol (OpenDSR) under the id the filer
// gave it, and what the protocol asked beyond the request itself. It holds no personal data.
type Filing struct {
	Protocol   string `json:"protocol"`   // ProtocolOpenDSR or ProtocolDRP
	ExternalID string `json:"externalId"` // OpenDSR's subject_request_id; DRP's request id (ours)
	// RequestID is the request filed; "" while the filing is reserved and the request is
	// being created.
	RequestID  string   `json:"requestId,omitempty"`
	Regulation string   `json:"regulation,omitempty"`
	Callbacks  []string `json:"callbacks,omitempty"`
	// AgentID and AgentRequestID are DRP's: the agent that filed, and its own id.
	AgentID        string `json:"agentId,omitempty"`
	AgentRequestID string `json:"agentRequestId,omitempty"`
}

// The protocols of filings.
const (
	ProtocolOpenDSR = "opendsr"
	ProtocolDRP     = "drp"
)

// ErrFilingExists means a filing with the same protocol and external id exists.
var ErrFilingExists = errors.New("a filing with this id exists")

// FilingStore keeps filings.
type FilingStore interface {
	// ReserveFiling stores f unless a filing with its protocol and external id exists
	// (ErrFilingExists).
	ReserveFiling(ctx context.Context, tenant string, f Filing) error
	// Filing reads one filing; NotFound when absent.
	Filing(ctx context.Context, tenant, protocol, externalID string) (*Filing, error)
	// SetFilingRequest records the request a reserved filing filed.
	SetFilingRequest(ctx context.Context, tenant string, f Filing) error
	// DeleteFiling removes a reserved filing whose request could not be created.
	DeleteFiling(ctx context.Context, tenant, protocol, externalID string) error
}

// Protocols files and follows requests for the request protocols (docs/protocols.md).
type Protocols struct {
	svc     *Service
	filings FilingStore
	agents  AgentStore
}

// ProtocolStore keeps what the protocols need beyond requests.
type ProtocolStore interface {
	FilingStore
	AgentStore
}

// NewProtocols returns the protocols' use cases over svc, keeping filings and agents in st.
func NewProtocols(svc *Service, st ProtocolStore) *Protocols {
	return &Protocols{svc: svc, filings: st, agents: st}
}

// FileOpenDSR files an OpenDSR request as an ordinary request (Service.CreateRequest) with
// verification v (and its reason when attested). Filing the same subject_request_id again
// returns the request it filed, Duplicate; the filing's id is reserved first, so two
// concurrent filings of one id create one request.
func (p *Protocols) FileOpenDSR(ctx context.Context, tenant string, r *opendsr.Request, v dsr.Verification, reason, linkBase string, w RequestWrite) (RequestResult, error) {
	typ, err := opendsr.TypeOf(r.SubjectRequestType)
	if err != nil {
		return RequestResult{}, err
	}
	f := Filing{Protocol: ProtocolOpenDSR, ExternalID: r.SubjectRequestID, Regulation: r.Regulation, Callbacks: r.StatusCallbackURLs}
	switch err := p.filings.ReserveFiling(ctx, tenant, f); {
	case errors.Is(err, ErrFilingExists):
		prior, err := p.filings.Filing(ctx, tenant, ProtocolOpenDSR, r.SubjectRequestID)
		if err != nil {
			return RequestResult{}, err
		}
		if prior.RequestID == "" {
			return RequestResult{}, errs.E(errs.Conflict, "a request with this subject_request_id is being filed; retry")
		}
		req, err := p.svc.GetRequest(ctx, tenant, prior.RequestID)
		return RequestResult{Request: req, Duplicate: true}, err
	case err != nil:
		return RequestResult{}, err
	}
	it, iv := r.Identity()
	in := RequestInput{Identity: &IdentityInput{Type: it, Value: iv}, Type: typ, Verification: v, AttestationReason: reason, LinkBase: linkBase}
	res, err := p.svc.CreateRequest(ctx, tenant, in, w)
	if err != nil {
		// Free the id, so that the controller may file it again once the cause is fixed.
		if derr := p.filings.DeleteFiling(ctx, tenant, ProtocolOpenDSR, r.SubjectRequestID); derr != nil {
			return RequestResult{}, errors.Join(err, derr)
		}
		return RequestResult{}, renameField(err, "identity", "subject_identities[0]")
	}
	f.RequestID = res.Request.ID
	if err := p.filings.SetFilingRequest(ctx, tenant, f); err != nil {
		return RequestResult{}, err
	}
	return res, nil
}

// OpenDSRRequest returns the request filed as subjectRequestID; NotFound when none was.
func (p *Protocols) OpenDSRRequest(ctx context.Context, tenant, subjectRequestID string) (*dsr.Request, error) {
	f, err := p.filing(ctx, tenant, subjectRequestID)
	if err != nil {
		return nil, err
	}
	return p.svc.GetRequest(ctx, tenant, f.RequestID)
}

// CancelOpenDSR cancels the request filed as subjectRequestID. OpenDSR lets a controller
// cancel a pending request (section 9); the model also refuses to cancel an erasure that
// has started (Conflict).
func (p *Protocols) CancelOpenDSR(ctx context.Context, tenant, subjectRequestID string, w RequestWrite) (*dsr.Request, error) {
	f, err := p.filing(ctx, tenant, subjectRequestID)
	if err != nil {
		return nil, err
	}
	r, err := p.svc.GetRequest(ctx, tenant, f.RequestID)
	if err != nil {
		return nil, err
	}
	if s := opendsr.StatusOf(r.Status); s != opendsr.StatusPending {
		return nil, errs.E(errs.Conflict, "only a pending request can be cancelled; this one is "+s)
	}
	return p.svc.CancelRequest(ctx, tenant, f.RequestID, w)
}

func (p *Protocols) filing(ctx context.Context, tenant, id string) (*Filing, error) {
	if !opendsr.ValidRequestID(id) {
		return nil, errs.E(errs.NotFound, "request not found")
	}
	f, err := p.filings.Filing(ctx, tenant, ProtocolOpenDSR, id)
	if err != nil {
		return nil, err
	}
	if f.RequestID == "" {
		return nil, errs.E(errs.NotFound, "request not found")
	}
	return f, nil
}
