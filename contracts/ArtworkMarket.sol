// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {IERC721} from "@openzeppelin/contracts/token/ERC721/IERC721.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title Sales of artwork tokens for the chain's native currency: fixed price or English auction.
/// @notice The token is escrowed here while it is on sale, and every bid is escrowed with it, so
/// no one can bid what they do not pay: an outbid bidder's money is credited back, and the sale
/// hands over the token and the money in one transaction. Money leaves only by `withdraw`
/// (pull payments): a recipient that refuses ETH cannot block a bid or a settlement. Sale ids are
/// the platform's UUIDs as uint256.
contract ArtworkMarket is ReentrancyGuard {
    struct Sale {
        address seller;
        uint64 endsAt; // 0: a fixed-price sale
        bool closed;
        uint256 tokenId;
        uint256 price; // the price, or an auction's lowest first bid
        address bidder;
        uint256 bid;
    }

    /// A bid must beat the last by this much (5%), and at least by one wei.
    uint256 public constant MIN_RAISE_BPS = 500;
    /// A bid in an auction's last minutes moves its end this far from the bid (anti-sniping).
    uint64 public constant EXTENSION = 10 minutes;
    uint64 public constant MAX_DURATION = 30 days;

    IERC721 public immutable artwork;
    address public immutable treasury;
    uint16 public immutable feeBps;
    mapping(uint256 saleId => Sale) public sales;
    /// What each account may withdraw: outbid bids, sellers' proceeds, the platform's fees.
    mapping(address account => uint256) public credits;

    event SaleOpened(uint256 indexed saleId, address indexed seller, uint256 indexed tokenId, uint256 price,
                     uint64 endsAt);
    event BidPlaced(uint256 indexed saleId, address indexed bidder, uint256 amount, uint64 endsAt);
    /// buyer is the zero address when an auction ends without bids (the token goes back).
    event SaleSettled(uint256 indexed saleId, address indexed buyer, uint256 amount, uint256 fee);
    event SaleCancelled(uint256 indexed saleId);
    event Withdrawal(address indexed account, uint256 amount);

    error InvalidSale();
    error SaleExists(uint256 saleId);
    error NoSale(uint256 saleId);
    error SaleClosed(uint256 saleId);
    error NotAuction(uint256 saleId);
    error NotFixedPrice(uint256 saleId);
    error AuctionEnded(uint256 saleId);
    error AuctionRunning(uint256 saleId);
    error BidTooLow(uint256 minimum);
    error WrongPrice(uint256 price);
    error NotSeller();
    error HasBids(uint256 saleId);
    error NothingToWithdraw();
    error TransferFailed();

    constructor(IERC721 artwork_, address treasury_, uint16 feeBps_) {
        if (treasury_ == address(0) || feeBps_ > 10_000) revert InvalidSale();
        artwork = artwork_;
        treasury = treasury_;
        feeBps = feeBps_;
    }

    /// @notice Put a token on sale; the seller must have approved this contract for it.
    /// `duration` 0 sells at `price`; otherwise an auction ending `duration` seconds after this
    /// block (the chain's clock, whenever the wallet sends it), with `price` as its lowest bid.
    function openSale(uint256 saleId, uint256 tokenId, uint256 price, uint64 duration) external nonReentrant {
        if (sales[saleId].seller != address(0)) revert SaleExists(saleId);
        if (price == 0 || duration > MAX_DURATION) revert InvalidSale();
        uint64 endsAt = duration == 0 ? 0 : uint64(block.timestamp) + duration;
        sales[saleId] = Sale({seller: msg.sender, endsAt: endsAt, closed: false, tokenId: tokenId, price: price,
                              bidder: address(0), bid: 0});
        emit SaleOpened(saleId, msg.sender, tokenId, price, endsAt);
        // Reverts unless the sender owns the token and approved this contract.
        artwork.transferFrom(msg.sender, address(this), tokenId);
    }

    /// @notice Buy a fixed-price sale for exactly its price.
    function buy(uint256 saleId) external payable nonReentrant {
        Sale storage sale = _open(saleId);
        if (sale.endsAt != 0) revert NotFixedPrice(saleId);
        if (msg.value != sale.price) revert WrongPrice(sale.price);
        _close(saleId, sale, msg.sender, msg.value);
    }

    /// @notice Bid `msg.value`; the bid it beats is credited back to its bidder.
    function bid(uint256 saleId) external payable nonReentrant {
        Sale storage sale = _open(saleId);
        if (sale.endsAt == 0) revert NotAuction(saleId);
        if (block.timestamp >= sale.endsAt) revert AuctionEnded(saleId);
        uint256 minimum = minimumBid(saleId);
        if (msg.value < minimum) revert BidTooLow(minimum);
        if (sale.bidder != address(0)) credits[sale.bidder] += sale.bid;
        sale.bidder = msg.sender;
        sale.bid = msg.value;
        if (sale.endsAt - block.timestamp < EXTENSION) sale.endsAt = uint64(block.timestamp) + EXTENSION;
        emit BidPlaced(saleId, msg.sender, msg.value, sale.endsAt);
    }

    /// @notice The lowest bid the auction takes now.
    function minimumBid(uint256 saleId) public view returns (uint256) {
        Sale storage sale = sales[saleId];
        if (sale.bidder == address(0)) return sale.price;
        uint256 raise = sale.bid * MIN_RAISE_BPS / 10_000;
        return sale.bid + (raise == 0 ? 1 : raise);
    }

    /// @notice After its end anyone settles an auction: the token to the winner and the money to
    /// the seller and the platform, or the token back to the seller if no one bid.
    function settle(uint256 saleId) external nonReentrant {
        Sale storage sale = _open(saleId);
        if (sale.endsAt == 0) revert NotAuction(saleId);
        if (block.timestamp < sale.endsAt) revert AuctionRunning(saleId);
        _close(saleId, sale, sale.bidder, sale.bid);
    }

    /// @notice The seller takes a sale back: a fixed-price sale any time, an auction until its first bid.
    function cancel(uint256 saleId) external nonReentrant {
        Sale storage sale = _open(saleId);
        if (msg.sender != sale.seller) revert NotSeller();
        if (sale.bidder != address(0)) revert HasBids(saleId);
        sale.closed = true;
        emit SaleCancelled(saleId);
        artwork.transferFrom(address(this), sale.seller, sale.tokenId);
    }

    /// @notice Take everything credited to the sender.
    function withdraw() external nonReentrant {
        uint256 amount = credits[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        credits[msg.sender] = 0;
        emit Withdrawal(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    function _open(uint256 saleId) private view returns (Sale storage sale) {
        sale = sales[saleId];
        if (sale.seller == address(0)) revert NoSale(saleId);
        if (sale.closed) revert SaleClosed(saleId);
    }

    function _close(uint256 saleId, Sale storage sale, address buyer, uint256 amount) private {
        sale.closed = true;
        uint256 fee = amount * feeBps / 10_000;
        if (buyer != address(0)) {
            credits[sale.seller] += amount - fee;
            credits[treasury] += fee;
        }
        emit SaleSettled(saleId, buyer, amount, fee);
        // transferFrom, not safeTransferFrom: a buyer contract that refuses tokens must not be able
        // to block the settlement (it chose to bid; the token is its own to move on).
        artwork.transferFrom(address(this), buyer == address(0) ? sale.seller : buyer, sale.tokenId);
    }
}
