package console

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/audit"
	"github.com/omsdev/oms/internal/omserr"
	"github.com/omsdev/oms/internal/project"
)

// userNameRE is the shape of a user name: ASCII only, so no two names look alike.
var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$`)

func invalid(msg, advice string) error { return omserr.New(omserr.APIInvalidArgument, msg, advice) }

func checkUserName(name string) error {
	if !userNameRE.MatchString(name) {
		return invalid(fmt.Sprintf("userName %q is not valid", name), "use 1-64 characters: letters, digits and _ . @ - (starting with a letter or digit)")
	}
	return nil
}

func checkRole(role string) error {
	if roleRank[role] == 0 {
		return invalid(fmt.Sprintf("role %q is not valid", role), "use one of viewer, operator, admin")
	}
	return nil
}

// hashPassword checks the password policy and hashes it.
func hashPassword(field, pw string) (string, error) {
	if len(pw) < 8 {
		return "", invalid(field+" is shorter than 8 characters", "choose a longer password")
	}
	if len(pw) > 72 {
		return "", invalid(field+" is longer than 72 bytes", "choose a password of at most 72 bytes (bcrypt's limit)")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// sessionRoutes are the actions of sessions and users.
func (s *Server) sessionRoutes() map[string]route {
	return map[string]route{
		api.ActionLogin:           {mutating: true, public: true, h: s.login},
		api.ActionLogout:          {mutating: true, role: api.RoleViewer, h: s.logout},
		api.ActionDescribeSession: {role: api.RoleViewer, noCSRF: true, h: s.describeSession},
		api.ActionChangePassword:  {mutating: true, role: api.RoleViewer, h: s.changePassword},
		api.ActionCreateUser:      {mutating: true, role: api.RoleAdmin, h: s.createUser},
		api.ActionListUsers:       {role: api.RoleAdmin, h: s.listUsers},
		api.ActionUpdateUser:      {mutating: true, role: api.RoleAdmin, h: s.updateUser},
		api.ActionDeleteUser:      {mutating: true, role: api.RoleAdmin, h: s.deleteUser},
	}
}

func (s *Server) createUser(ctx context.Context, c *call) (any, error) {
	var req api.CreateUserRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.resource = audit.Truncate(req.UserName, 64)
	if err := checkUserName(req.UserName); err != nil {
		return nil, err
	}
	if err := checkRole(req.Role); err != nil {
		return nil, err
	}
	hash, err := hashPassword("password", req.Password)
	if err != nil {
		return nil, err
	}
	_, err = s.db.ExecContext(ctx, "INSERT INTO "+s.rm+".users (username, password_hash, role) VALUES (?,?,?)", req.UserName, hash, req.Role)
	if project.IsDuplicate(err) {
		return nil, omserr.New(omserr.APIAlreadyExists, fmt.Sprintf("user %q already exists (names are unique ignoring letter case)", req.UserName), "choose another name")
	}
	if err != nil {
		return nil, fmt.Errorf("create user: %w", err)
	}
	return api.User{UserName: req.UserName, Role: req.Role, CreatedAt: time.Now().UTC()}, nil
}

func (s *Server) listUsers(ctx context.Context, c *call) (any, error) {
	var req api.Empty
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, "SELECT username, role, created_at FROM "+s.rm+".users ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	out := []api.User{}
	for rows.Next() {
		var u api.User
		if err := rows.Scan(&u.UserName, &u.Role, &u.CreatedAt); err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// existingUser is NOT_FOUND unless name is exactly a stored user name.
func (s *Server) existingUser(ctx context.Context, name string) (role string, err error) {
	_, role, found, err := s.lookupUser(ctx, name)
	if err != nil {
		return "", err
	}
	if !found {
		return "", omserr.New(omserr.APINotFound, fmt.Sprintf("user %q does not exist", name), "list users with ListUsers (names are case-sensitive)")
	}
	return role, nil
}

// lastAdmin refuses to take away the only admin.
func (s *Server) lastAdmin(ctx context.Context, name, role string) error {
	if role != api.RoleAdmin {
		return nil
	}
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+s.rm+".users WHERE role = 'admin'").Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n <= 1 {
		return omserr.New(omserr.APIStateConflict, fmt.Sprintf("user %q is the only admin", name), "make another user admin first")
	}
	return nil
}

func (s *Server) updateUser(ctx context.Context, c *call) (any, error) {
	var req api.UpdateUserRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.resource = audit.Truncate(req.UserName, 64)
	role, err := s.existingUser(ctx, req.UserName)
	if err != nil {
		return nil, err
	}
	if req.Role != "" && req.Role != role {
		if err := checkRole(req.Role); err != nil {
			return nil, err
		}
		if err := s.lastAdmin(ctx, req.UserName, role); err != nil {
			return nil, err
		}
		if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".users SET role = ? WHERE username = ?", req.Role, req.UserName); err != nil {
			return nil, fmt.Errorf("update user role: %w", err)
		}
		role = req.Role
	}
	if req.Password != "" {
		if err := s.setPassword(ctx, req.UserName, "password", req.Password, ""); err != nil {
			return nil, err
		}
	}
	return api.User{UserName: req.UserName, Role: role}, nil
}

func (s *Server) deleteUser(ctx context.Context, c *call) (any, error) {
	var req api.UserNameRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.resource = audit.Truncate(req.UserName, 64)
	if req.UserName == c.who.user {
		return nil, omserr.New(omserr.APIStateConflict, "you cannot delete your own user", "log in as another admin to delete it")
	}
	role, err := s.existingUser(ctx, req.UserName)
	if err != nil {
		return nil, err
	}
	if err := s.lastAdmin(ctx, req.UserName, role); err != nil {
		return nil, err
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.rm+".users WHERE username = ?", req.UserName); err != nil {
		return nil, fmt.Errorf("delete user: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.rm+".sessions WHERE username = ?", req.UserName); err != nil {
		return nil, fmt.Errorf("end sessions of deleted user: %w", err)
	}
	return api.Empty{}, nil
}

func (s *Server) changePassword(ctx context.Context, c *call) (any, error) {
	var req api.ChangePasswordRequest
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	c.resource = c.who.user
	hash, _, found, err := s.lookupUser(ctx, c.who.user)
	if err != nil {
		return nil, err
	}
	if !found || bcrypt.CompareHashAndPassword([]byte(hash), []byte(req.OldPassword)) != nil {
		return nil, invalid("oldPassword is wrong", "enter your current password")
	}
	if req.NewPassword == req.OldPassword {
		return nil, invalid("newPassword is the same as oldPassword", "choose a different password")
	}
	return api.Empty{}, s.setPassword(ctx, c.who.user, "newPassword", req.NewPassword, c.who.sessionID)
}

// setPassword stores a new password and ends the user's other sessions (keep: the caller's own).
// The Basic-auth cache is keyed by the hash, so the old password stops working at once.
func (s *Server) setPassword(ctx context.Context, user, field, pw, keep string) error {
	hash, err := hashPassword(field, pw)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE "+s.rm+".users SET password_hash = ? WHERE username = ?", hash, user); err != nil {
		return fmt.Errorf("update password: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM "+s.rm+".sessions WHERE username = ? AND id <> ?", user, keep); err != nil {
		return fmt.Errorf("end other sessions: %w", err)
	}
	return nil
}
