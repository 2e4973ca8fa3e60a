package project

import (
	"context"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/verifyresult"
)

// VerificationResult returns the per-table counts of a project's last finished verification.
func (s *Service) VerificationResult(ctx context.Context, id string) (api.VerificationResult, error) {
	if _, err := s.Describe(ctx, id); err != nil {
		return api.VerificationResult{ProjectID: id}, err
	}
	out, _, err := verifyresult.Load(ctx, s.db, s.rm, id, false)
	return out, err
}

// FixSQL returns the fix SQL of a project's last finished verification.
func (s *Service) FixSQL(ctx context.Context, id string) (api.VerificationFixSQL, error) {
	if _, err := s.Describe(ctx, id); err != nil {
		return api.VerificationFixSQL{}, err
	}
	res, fix, err := verifyresult.Load(ctx, s.db, s.rm, id, true)
	if err != nil {
		return api.VerificationFixSQL{}, err
	}
	return api.VerificationFixSQL{FileName: "oms-fix-" + id + ".sql", SQL: string(fix), Truncated: res.FixSQLTruncated}, nil
}
